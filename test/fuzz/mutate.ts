/**
 * Seeded mutations of JSON documents for the config and tool-file fuzzers. Every case is reproducible
 * from its seed, which the fuzzers print when a case fails (FUZZ_SEED=<n> reruns from there).
 */

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

type Json = unknown;
type Path = (string | number)[];

/** Every path to a value inside `doc` (the root excluded), depth-first. */
export function paths(doc: Json, limit = 2000, maxDepth = 8): Path[] {
  const out: Path[] = [];
  const stack: { v: Json; p: Path }[] = [{ v: doc, p: [] }];
  while (stack.length > 0 && out.length < limit) {
    const { v, p } = stack.pop()!;
    if (p.length > 0) out.push(p);
    if (p.length >= maxDepth) continue;
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, p: [...p, i] }));
    else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) stack.push({ v: x, p: [...p, k] });
  }
  return out;
}

function parentOf(doc: Json, path: Path): { parent: Record<string | number, Json>; key: string | number } | undefined {
  let cur = doc;
  for (const k of path.slice(0, -1)) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string | number, Json>)[k];
  }
  if (typeof cur !== "object" || cur === null) return undefined;
  return { parent: cur as Record<string | number, Json>, key: path[path.length - 1] as string | number };
}

/** Sets an own property even for "__proto__", the way JSON.parse does. */
function setOwn(obj: Record<string | number, Json>, key: string | number, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export const PROTO_KEYS = ["__proto__", "constructor", "toString", "prototype", "hasOwnProperty", "valueOf"];

/** Nested lists, built without recursion; deep enough to break any recursive walk without a limit. */
export function deepList(levels: number): Json {
  return JSON.parse("[".repeat(levels) + "]".repeat(levels)) as Json;
}

export function deepObject(levels: number, key = "a"): Json {
  return JSON.parse(`{"${key}":`.repeat(levels) + "{}" + "}".repeat(levels)) as Json;
}

/** A value of a surprising kind: wrong types, extreme numbers, prototype names, giant strings, deep nesting. */
export function oddValue(r: Rng): Json {
  switch (r.int(14)) {
    case 0:
      return r.pick([0, -1, -0, 0.5, 1e15, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 2 ** 31, 4097, 131_073, 3_600_001, 1_000_001, 10_001]);
    case 1:
      return r.pick([Number.NaN, Infinity, -Infinity]);
    case 2:
      return r.pick(["", " ", "1", "true", "null", "NaN", "http://x", "javascript:alert(1)", "file:///etc/passwd", "é", "\u0000", "\uFEFF"]);
    case 3:
      return r.pick(PROTO_KEYS);
    case 4:
      return "x".repeat(r.pick([64, 257, 2049, 4097, 100_000]));
    case 5:
      return r.pick([true, false, null]);
    case 6:
      return [];
    case 7:
      return {};
    case 8:
      return deepList(r.pick([70, 200, 5000]));
    case 9:
      return deepObject(r.pick([70, 200, 5000]));
    case 10:
      return Array.from({ length: r.pick([65, 300, 5000]) }, () => r.pick([1, "x", { kind: "example" }, { name: "verify.rules" }]));
    case 11:
      return Object.fromEntries(Array.from({ length: r.pick([65, 300]) }, (_, i) => [`k${i}`, { baseUrl: "http://127.0.0.1:8000/v1" }]));
    case 12:
      return r.pick([1, 2, 10, 100, 200, 2000, 10_000, 1_000_000]);
    default:
      return JSON.parse(`{"${r.pick(PROTO_KEYS)}": 1}`) as Json;
  }
}

/** Applies 1-4 random mutations to `doc` in place (pass a fresh copy) and returns it. */
export function mutate(doc: Json, r: Rng, extraKeys: readonly string[] = []): Json {
  const out = doc;
  const rounds = 1 + r.int(4);
  for (let i = 0; i < rounds; i++) {
    const all = paths(out);
    if (all.length === 0) break;
    const path = r.pick(all);
    const at = parentOf(out, path);
    if (!at) continue;
    switch (r.int(5)) {
      case 0: // replace with an odd value
        setOwn(at.parent, at.key, oddValue(r));
        break;
      case 1: // delete (missing field)
        if (Array.isArray(at.parent)) at.parent.splice(at.key as number, 1);
        else delete at.parent[at.key];
        break;
      case 2: {
        // unknown or prototype-ish key next to the value
        const target = at.parent;
        if (!Array.isArray(target)) setOwn(target, r.pick([...PROTO_KEYS, ...extraKeys, "unknownField", "batchsize", ""]), oddValue(r));
        else target.push(oddValue(r));
        break;
      }
      case 3: // rename a key to a prototype-ish one
        if (!Array.isArray(at.parent) && typeof at.key === "string") {
          const v = at.parent[at.key];
          delete at.parent[at.key];
          setOwn(at.parent, r.pick(PROTO_KEYS), v);
        }
        break;
      default: {
        // a plausible-but-wrong value of another type
        const v = at.parent[at.key];
        const asText = typeof v === "object" && v !== null ? "[object]" : String(v);
        setOwn(at.parent, at.key, r.pick([asText, [v], { value: v }, 0]));
      }
    }
  }
  return out;
}

/** Text-level damage: a BOM, a truncation, or trailing garbage. Undefined when the text is left whole. */
export function damageText(text: string, r: Rng): string {
  switch (r.int(4)) {
    case 0:
      return "\uFEFF" + text;
    case 1:
      return text.slice(0, r.int(text.length));
    case 2:
      return text + r.pick(["}", ",", "\u0000", " garbage", "\uFEFF"]);
    default:
      return "\uFEFF\uFEFF" + text;
  }
}

/** The seed for this run: FUZZ_SEED when set (to replay a failure), else a fixed default. */
export function fuzzSeed(defaultSeed: number): number {
  const s = process.env.FUZZ_SEED;
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : defaultSeed;
}
