/**
 * Nesting depth of JSON values, measured without recursion. Our walks over schemas and argument
 * values recurse; a value nested a few thousand levels deep (JSON.parse accepts far more) would end
 * them in a RangeError, so inputs are measured first and refused with a path a person can follow.
 */

/** Keys from the root to a value; numbers are list positions. */
export type JsonPath = (string | number)[];

interface Frame {
  value: unknown;
  depth: number;
  key: string | number | undefined;
  parent: Frame | undefined;
}

/**
 * The path to the first value nested deeper than `limit` containers (the root object or list is
 * depth 1; scalars add nothing), or undefined when `value` stays within it. Only objects and arrays
 * are entered, each at most once, so shared or cyclic references do not loop.
 */
export function pathDeeperThan(value: unknown, limit: number): JsonPath | undefined {
  const seen = new Set<object>();
  const stack: Frame[] = [{ value, depth: 0, key: undefined, parent: undefined }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const v = frame.value;
    if (typeof v !== "object" || v === null || seen.has(v)) continue;
    seen.add(v);
    const depth = frame.depth + 1;
    if (depth > limit) return pathOf(frame);
    if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth, key: i, parent: frame });
    else for (const [k, child] of Object.entries(v).reverse()) stack.push({ value: child, depth, key: k, parent: frame });
  }
  return undefined;
}

function pathOf(frame: Frame): JsonPath {
  const path: JsonPath = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) path.push(f.key);
  return path.reverse();
}

/** `a.b[2].c` from a path; long paths keep their start and say how much was cut. */
export function formatJsonPath(base: string, path: JsonPath, maxLength = 160): string {
  let out = base;
  for (const k of path) {
    const segment =
      typeof k === "number"
        ? `[${k}]`
        : /^[A-Za-z0-9_$-]+$/.test(k)
          ? out === ""
            ? k
            : `.${k}`
          : `[${JSON.stringify(k.length > 64 ? `${k.slice(0, 64)}…` : k)}]`;
    if (out.length + segment.length > maxLength) return `${out}… (${path.length} levels)`;
    out += segment;
  }
  return out;
}

/**
 * Whether `value` nests deeper than `limit` containers (pathDeeperThan's question, same counting):
 * no frames and no seen-set, for checks on every request (a tenth of pathDeeperThan's time on a
 * chat body). It recurses at most `limit` calls deep, so keep limits in the hundreds; meant for
 * JSON.parse output (no cycles: a cycle reads as too deep).
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (limit <= 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestsDeeperThan(value[i], limit - 1)) return true;
    return false;
  }
  for (const k in value) if (Object.hasOwn(value, k) && nestsDeeperThan((value as Record<string, unknown>)[k], limit - 1)) return true;
  return false;
}

/**
 * Whether JSON text would parse to a value nesting deeper than `limit` containers, by counting
 * brackets outside strings (not parsing it): for JSON carried in strings, such as a tool call's
 * `arguments`, before something parses and walks it. Invalid JSON is measured the same way.
 */
export function jsonTextDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: up to the next quote not escaped by a backslash.
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
