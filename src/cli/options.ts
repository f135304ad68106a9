/** Flag values as commander hands them over (strings), checked before anything is started or connected to. */
import { CliError } from "./errors.js";

/** `raw` as a positive integer, else bad input naming `name` ("abc", "0", "-5", "1.5" and "1e3" alike). */
export function positiveInteger(name: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) throw new CliError(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}
