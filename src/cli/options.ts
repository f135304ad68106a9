/** Flag values as commander hands them over (strings), checked before anything is started or connected to. */
import { CliError } from "./errors.js";

/**
 * `raw` as an integer written in plain decimal digits, else undefined. Number() alone takes " 5",
 * "2.0", "1e2" and "0x1F90" (and "" as 0): a value the operator did not mean to give.
 */
export function plainInteger(raw: string): number | undefined {
  if (!/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `raw` as an integer from `min` to `max` in plain decimal digits, else bad input naming `name`. */
export function integerFromTo(name: string, raw: string, min: number, max: number): number {
  const n = plainInteger(raw);
  if (n === undefined || n < min || n > max) throw new CliError(`${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** `raw` as a positive integer, else bad input naming `name` ("abc", "0", "-5", "1.5", " 5" and "1e3" alike). */
export function positiveInteger(name: string, raw: string): number {
  const n = plainInteger(raw);
  if (n === undefined || n < 1) throw new CliError(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** `raw` as a whole number from 0 to `max`, else bad input naming `name` ("-1", "1.5", " 5", "1e3" and "abc" alike). */
export function wholeNumberUpTo(name: string, raw: string, max: number): number {
  const n = plainInteger(raw);
  if (n === undefined || n > max) throw new CliError(`${name}: expected a whole number from 0 to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** `raw` as a plain decimal number ("2", "0.5", ".5"), else undefined: no sign, exponent, hex or spaces. */
export function plainDecimal(raw: string): number | undefined {
  return /^(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : undefined;
}

/** `raw` as a probability, else bad input naming `name` (Number() alone would pass "" as 0 and "abc" as NaN). */
export function probability(name: string, raw: string): number {
  const n = plainDecimal(raw);
  if (n === undefined || n < 0 || n > 1) throw new CliError(`${name}: expected a number between 0 and 1, got ${JSON.stringify(raw)}`);
  return n;
}
