/**
 * Runs `fn` on every item with at most `concurrency` calls in flight: that many runners, each
 * taking the next item when it finishes one. Nothing is made per item in advance (p-limit over a
 * batch's thousand slots builds a closure and a chain of promises for each up front, and a few more
 * as each starts), which the hot path of synthesis pays per sample. Rejects with the first error a
 * call throws; the runners then take no new items (calls in flight finish on their own).
 */
export async function forEachConcurrently<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`forEachConcurrently: concurrency must be a positive integer, got ${concurrency}`);
  let next = 0;
  let failed = false;
  const runner = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, runner));
}
