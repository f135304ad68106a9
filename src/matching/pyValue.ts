/**
 * Python value model used by the BFCL-faithful checker.
 *
 * The official checker compares Python objects, where `type(1) is int` but `type(1.0) is float`,
 * `True == 1`, and tuples differ from lists. Plain JS loses some of that, so values follow this
 * convention (still JSON-serialisable and mostly plain):
 *  - null = None, boolean = bool, string = str, plain object = dict, array = list;
 *  - a JS number is an int when Number.isInteger, else a float;
 *  - an int a double cannot hold exactly (past 2^53, such as an order id 12345678901234567890) is a
 *    bigint, as parsers read it (pyIntFromText): Python's ints are exact, and two such ids that round
 *    to one double are different values there;
 *  - a float whose value is integral (source text `3.0`, `1e3`) is a `PyFloat` instance;
 *  - an array produced from a Python tuple carries the non-enumerable `PY_TUPLE` marker.
 */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
  toJSON(): number {
    return this.value;
  }
}

export const PY_TUPLE: unique symbol = Symbol.for("toolloop.pyTuple");

export function makeTuple(items: unknown[]): unknown[] {
  Object.defineProperty(items, PY_TUPLE, { value: true, enumerable: false });
  return items;
}

export function isTuple(v: unknown): boolean {
  return Array.isArray(v) && (v as unknown as Record<symbol, unknown>)[PY_TUPLE] === true;
}

/** Builds a float from a JS number, keeping the int/float distinction for integral values. */
export function pyFloat(n: number): number | PyFloat {
  return Number.isInteger(n) ? new PyFloat(n) : n;
}

export type PyTypeName = "NoneType" | "bool" | "int" | "float" | "str" | "list" | "tuple" | "dict" | "object";

export function pyType(v: unknown): PyTypeName {
  // typeof compared with literals compiles to type checks; a switch on typeof materialised the
  // type name through a builtin call on every value (it showed in the matcher's profile).
  if (typeof v === "string") return "str";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "object") {
    if (v === null) return "NoneType";
    if (v instanceof PyFloat) return "float";
    if (Array.isArray(v)) return isTuple(v) ? "tuple" : "list";
    return "dict";
  }
  if (typeof v === "bigint") return "int";
  return "object";
}

/** Python's int for an integer literal's text: a number while a double holds it exactly, else a bigint. */
export function pyIntFromText(text: string, n = Number(text)): number | bigint {
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** Python's float(int): the nearest double (ties to even, as Number does); OverflowError past the largest. */
export function pyIntToFloat(v: number | bigint): number {
  if (typeof v === "number") return v;
  const f = Number(v);
  if (!Number.isFinite(f)) throw new PyCrash("OverflowError: int too large to convert to float");
  return f;
}

/** A number, bool or PyFloat's value; undefined for anything else, bigints included (compared exactly below). */
function numericValue(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof PyFloat) return v.value;
  return undefined;
}

/** Python's `int == float` for a bigint: exact, so a double equals it only when integral and of the same value. */
function bigIntEquals(i: bigint, n: number): boolean {
  return Number.isInteger(n) && BigInt(n) === i;
}

/**
 * Python `==` for the value model (True == 1 == 1.0, list/tuple never equal, dict order-free). Ints
 * compare exactly: two bigints by value (`===`), a bigint and a double only if the double is
 * integral and equal to it (never through a rounded copy of the bigint).
 */
export function pyEq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const na = numericValue(a);
  if (na !== undefined) {
    const nb = numericValue(b);
    if (nb !== undefined) return na === nb;
    return typeof b === "bigint" && bigIntEquals(b, na);
  }
  if (typeof a === "bigint") {
    const nb = numericValue(b);
    return nb !== undefined && bigIntEquals(a, nb);
  }
  if (a === null || b === null) return false;
  if (typeof a === "string" || typeof b === "string") return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || isTuple(a) !== isTuple(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!pyEq(a[i], b[i])) return false;
    return true;
  }
  if (typeof a === "object" && typeof b === "object" && !Array.isArray(b) && !(b instanceof PyFloat)) {
    const ka = Object.keys(a);
    const bo = b as Record<string, unknown>;
    if (ka.length !== Object.keys(bo).length) return false;
    const ao = a as Record<string, unknown>;
    for (let i = 0; i < ka.length; i++) {
      const k = ka[i]!;
      if (!Object.prototype.hasOwnProperty.call(bo, k) || !pyEq(ao[k], bo[k])) return false;
    }
    return true;
  }
  return false;
}

/** Python `x in container` for list (element equality), str (substring) and dict (key). */
export function pyIn(x: unknown, container: unknown): boolean {
  if (Array.isArray(container)) {
    for (let i = 0; i < container.length; i++) if (pyEq(x, container[i])) return true;
    return false;
  }
  if (typeof container === "string") {
    if (typeof x !== "string") throw new PyCrash(`'in <string>' requires string as left operand, not ${pyType(x)}`);
    return container.includes(x);
  }
  if (isDict(container)) return typeof x === "string" && Object.prototype.hasOwnProperty.call(container, x);
  throw new PyCrash(`argument of type '${pyType(container)}' is not iterable`);
}

/** Python `len(x)`. */
export function pyLen(x: unknown): number {
  if (Array.isArray(x)) return x.length;
  if (typeof x === "string") return Array.from(x).length;
  if (isDict(x)) return Object.keys(x).length;
  throw new PyCrash(`object of type '${pyType(x)}' has no len()`);
}

/** Python iteration (list items, string code points, dict keys). */
export function pyIter(x: unknown): unknown[] {
  if (Array.isArray(x)) return x;
  if (typeof x === "string") return Array.from(x);
  if (isDict(x)) return Object.keys(x);
  throw new PyCrash(`'${pyType(x)}' object is not iterable`);
}

export function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof PyFloat);
}

/** Raised where the official (Python) checker would raise; the matcher turns it into a verdict. */
export class PyCrash extends Error {}

/** Sets a key safely even when it is `__proto__`. */
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Short Python-ish rendering for messages. */
export function pyRepr(v: unknown): string {
  if (v === undefined) return "<missing>";
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (v instanceof PyFloat) return `${v.value}.0`;
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) {
    const inner = v.map(pyRepr).join(", ");
    return isTuple(v) ? `(${inner}${v.length === 1 ? "," : ""})` : `[${inner}]`;
  }
  if (isDict(v))
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}: ${pyRepr(x)}`)
      .join(", ")}}`;
  return String(v);
}
