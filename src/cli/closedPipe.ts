/**
 * A reader that closes the CLI's output early (`toolloop campaign list | head -1`) makes the next write fail
 * with EPIPE. Node reports that as an unhandled 'error' event: a stack trace and exit 1 after the user got what
 * they asked for. Like other command-line tools, the CLI stops quietly instead (exit 0: what was asked had been
 * done; a campaign start had started its campaign before it printed).
 */
export function stopQuietlyOnClosedPipe(stream: NodeJS.EventEmitter, exit: (code: number) => void = (code) => process.exit(code)): void {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") exit(0);
    else throw err;
  });
}
