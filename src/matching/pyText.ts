import { pyFloat, pyIntFromText, type PyFloat } from "./pyValue.js";

/** Python's int(str): surrounding whitespace, optional sign, digits with single underscores; exact (a bigint past 2^53). */
export function pyIntParse(s: string): number | bigint | undefined {
  const t = s.trim();
  if (!/^[+-]?\d(?:_?\d)*$/.test(t)) return undefined;
  return pyIntFromText(t.replace(/_/g, ""));
}

const FLOAT_RE = /^[+-]?(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const SPECIAL_FLOAT_RE = /^([+-]?)(inf|infinity|nan)$/i;

/** Python's float(str), returning a value in the pyValue model (integral floats as PyFloat). */
export function pyFloatParse(s: string): number | PyFloat | undefined {
  const t = s.trim();
  const special = SPECIAL_FLOAT_RE.exec(t);
  if (special) {
    const word = special[2]!.toLowerCase();
    if (word === "nan") return NaN;
    return special[1] === "-" ? -Infinity : Infinity;
  }
  if (!FLOAT_RE.test(t)) return undefined;
  return pyFloat(Number(t.replace(/_/g, "")));
}

/** Python's str.strip(chars). */
export function pyStripChars(s: string, chars: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && chars.includes(s[a]!)) a++;
  while (b > a && chars.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/** Python's s[1:-1]. */
export function pyInner(s: string): string {
  return s.length <= 2 ? "" : s.slice(1, -1);
}

/** Python's `$` (without MULTILINE) also matches just before a final newline. */
export const PY_END = "(?=\\n?$)";
