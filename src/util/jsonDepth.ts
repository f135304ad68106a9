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
