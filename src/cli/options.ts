/** Flag values as commander hands them over (strings), checked before anything is started or connected to. */
import { CliError } from "./errors.js";

/** `raw` as a positive integer, else bad input naming `name` ("abc", "0", "-5", "1.5" and "1e3" alike). */
export function positiveInteger(name: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) throw new CliError(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** `raw` as a whole number from 0 to `max`, else bad input naming `name` ("-1", "1.5", "1e3" and "abc" alike). */
export function wholeNumberUpTo(name: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n > max) throw new CliError(`${name}: expected a whole number from 0 to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** `raw` as a probability, else bad input naming `name` (Number() alone would pass "" as 0 and "abc" as NaN). */
export function probability(name: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) throw new CliError(`${name}: expected a number between 0 and 1, got ${JSON.stringify(raw)}`);
  return n;
}
