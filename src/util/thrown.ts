import { inspect } from "node:util";

/**
 * A thrown value in words: an Error's message, a string as it is, an error-like object's name and
 * message, anything else as util.inspect shows it on one line. Libraries do reject with plain objects
 * (PGlite's `ExitStatus`), which String() turns into "[object Object]".
 */
export function thrownMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  if (typeof err === "object" && err !== null) {
    const { name, message } = err as { name?: unknown; message?: unknown };
    if (typeof message === "string" && message !== "") return typeof name === "string" && name !== "" ? `${name}: ${message}` : message;
  }
  return inspect(err, { depth: 2, breakLength: Infinity });
}
