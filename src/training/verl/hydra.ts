/**
 * Hydra command-line overrides (`key=value`) from typed values. Strings are quoted whenever Hydra's
 * override grammar would read them as something else (a number, a bool, null, a list, an
 * interpolation, or text with spaces, commas, quotes or brackets), so a path or name always arrives
 * as the same string. Pure.
 */

export type HydraValue = string | number | boolean | null | readonly string[];

/** Characters Hydra accepts in an unquoted string (a subset of its grammar, enough for paths and names). */
const PLAIN = /^[A-Za-z_/][A-Za-z0-9_\-/.+@%]*$/;
/** Unquoted words Hydra turns into something other than a string. */
const RESERVED = /^(true|false|null|nan|inf|[+-]?inf)$/i;

export function hydraString(s: string): string {
  if (PLAIN.test(s) && !RESERVED.test(s)) return s;
  // Inside single quotes Hydra reads \' as a quote and halves backslashes only before a quote or the
  // closing quote; OmegaConf then reads \${ as a literal ${ (and halves backslashes before it). So a
  // run of backslashes before a quote, ${ or the end is doubled, and the quote or ${ escaped.
  const escaped = s.replace(/(\\*)('|\$\{|$)/g, (_m, slashes: string, tail: string) => slashes + slashes + (tail === "" ? "" : `\\${tail}`));
  return `'${escaped}'`;
}

export function hydraNumber(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite number: ${n}`);
  return String(n);
}

export function hydraValue(v: HydraValue): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return hydraNumber(v);
  if (typeof v === "string") return hydraString(v);
  return `[${v.map(hydraString).join(",")}]`;
}

/** A user's extra override: a dotted key (optionally prefixed + or ++ to add a key), `=`, then any value on one line. */
export const EXTRA_OVERRIDE = /^(\+{1,2})?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*=[^\n\r\0]*$/;

export function overrideKey(override: string): string {
  return override.slice(0, override.indexOf("=")).replace(/^\+{1,2}/, "");
}

/**
 * Ordered key=value overrides; an extra override of a key already set replaces that entry (in place),
 * so each key appears once and the user's value wins.
 */
export function mergeOverrides(base: [string, HydraValue][], extra: readonly string[]): string[] {
  const out = new Map<string, string>(base.map(([k, v]) => [k, `${k}=${hydraValue(v)}`]));
  for (const e of extra) out.set(overrideKey(e), e);
  return [...out.values()];
}
