/**
 * Results of a batch's concurrent LLM calls, written in small groups, one write at a time and in
 * order: a group goes out when it has `every` items or `afterMs` after its first one, so a batch of
 * slow calls still shows progress and a fast one does not pay a round trip per item. A failed write
 * goes to `onError` (the batch stops); `flush()` waits for everything pushed so far.
 */
export class WriteBuffer<T> {
  private buffer: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (chunk: T[]) => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly opts: { every: number; afterMs: number } = { every: 50, afterMs: 200 },
  ) {}

  push(item: T): void {
    this.buffer.push(item);
    if (this.buffer.length >= this.opts.every) this.flush().catch(this.onError);
    else
      this.timer ??= setTimeout(() => {
        this.flush().catch(this.onError);
      }, this.opts.afterMs);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const chunk = this.buffer;
    this.buffer = [];
    if (chunk.length > 0) this.writing = this.writing.then(() => this.write(chunk)).catch(this.onError);
    return this.writing;
  }
}
