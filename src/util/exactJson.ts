/**
 * JSON whose integers keep every digit. A tool call's `function.arguments` is JSON text the model
 * wrote, and it may hold an integer a double cannot (an order id such as 12345678901234567890):
 * JSON.parse reads the nearest double, 12345678901234567000, and writing that back changes the
 * label. Python's json.loads, which verl, vLLM's chat templates and BFCL's checker use, keeps it
 * exact, so wherever arguments are parsed to be written again (training files, judge prompts,
 * canonical keys) they are read here: such an integer becomes a bigint, every other value is what
 * JSON.parse gives (other numbers are doubles, as in Python). Uses lossless-json's parser for those
 * texts only; the rest goes through JSON.parse (a number needing more than a double has 16+ digits).
 *
 * Where arguments are written again as Python writes them (a call rendered into a chat turn, verl's
 * ground truth), parseJsonAsPython also keeps a float with an integral value a float (`2.0`, which
 * JSON.parse makes the int 2): a PyFloat, written back as `2.0` by stringifyJsonExact and
 * pythonJsonDumps, as json.dumps writes it.
 */
import { isInteger, isSafeNumber, parse, stringify, type NumberStringifier } from "lossless-json";
import { PyFloat } from "../matching/pyValue.js";
import { pythonFloat } from "./pythonJson.js";

/** A run of 16 digits: the shortest integer a double may not hold (2^53 has 16 digits). */
const MAYBE_UNSAFE = /\d{16}/;

/** An integer literal a double cannot hold exactly as a bigint; other numbers as JSON.parse reads them. */
const exactNumber = (digits: string): unknown => (isInteger(digits) && !isSafeNumber(digits) ? BigInt(digits) : Number(digits));

/**
 * JSON.parse, except that integers a double cannot hold are bigints (exact). Throws SyntaxError on
 * malformed text; a key given twice keeps its last value, as with JSON.parse. A reviver is applied as
 * JSON.parse applies it.
 */
export function parseJsonExact(text: string, reviver?: (key: string, value: unknown) => unknown): unknown {
  if (!MAYBE_UNSAFE.test(text)) return JSON.parse(text, reviver);
  return parse(text, reviver ?? null, { parseNumber: exactNumber, onDuplicateKey: ({ newValue }) => newValue });
}

/** A number literal in the text that JSON.parse reads otherwise than json.loads: 16+ digits, or a float that may be integral (`2.0`, `2.`, `1e3`). */
const MAYBE_NOT_AS_PYTHON = /\d{16}|\d(?:\.0*(?![0-9])|[eE])/;

/** As Python's json.loads reads a number literal: exact ints (bigint past a double), floats as floats. */
const pythonNumber = (digits: string): unknown => {
  if (isInteger(digits)) return isSafeNumber(digits) ? Number(digits) : BigInt(digits);
  const n = Number(digits);
  return Number.isInteger(n) ? new PyFloat(n) : n;
};

/**
 * JSON text read as Python's json.loads reads it, for values written again as Python writes them:
 * parseJsonExact, and a float with an integral value (`2.0`, `1e3`) is a PyFloat. Strict JSON
 * (NaN is refused, as JSON.parse refuses it); SyntaxError on malformed text; a key given twice
 * keeps its last value.
 */
export function parseJsonAsPython(text: string): unknown {
  if (!MAYBE_NOT_AS_PYTHON.test(text)) return JSON.parse(text);
  return parse(text, null, { parseNumber: pythonNumber, onDuplicateKey: ({ newValue }) => newValue });
}

/** An integer-like object key ("2", "10"), which a JavaScript object enumerates before the others. */
const INTEGER_LIKE_KEY = /"(?:0|[1-9][0-9]*)"\s*:/;

/**
 * parseJsonAsPython, with each object's keys in the text's order as a Python dict keeps them, for
 * values written again in that order (pythonJsonDumps): where the text has an integer-like key, every
 * object is a Map (a key given twice keeps its first place and its last value, as in a dict); elsewhere
 * objects are plain, their order already the text's. SyntaxError on malformed text, NaN refused.
 */
export function parseJsonAsPythonInOrder(text: string): unknown {
  if (!INTEGER_LIKE_KEY.test(text)) return parseJsonAsPython(text);
  return new OrderedJsonReader(text).whole();
}

const NUMBER_TOKEN = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in a string
const STRING_TOKEN = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** A JSON reader whose objects are Maps; numbers as parseJsonAsPython reads them, strings as JSON.parse does. */
class OrderedJsonReader {
  private i = 0;
  constructor(private readonly text: string) {}

  whole(): unknown {
    const v = this.value();
    this.space();
    if (this.i < this.text.length) this.fail("unexpected data after the value");
    return v;
  }

  /** The token `sticky` matches at the current position, if any. */
  private match(sticky: RegExp): string | undefined {
    sticky.lastIndex = this.i;
    return sticky.exec(this.text)?.[0];
  }

  private fail(what: string): never {
    throw new SyntaxError(`${what} at position ${this.i}`);
  }

  private space(): void {
    while (this.i < this.text.length && " \t\n\r".includes(this.text[this.i]!)) this.i++;
  }

  private value(): unknown {
    this.space();
    const c = this.text[this.i];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const)
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    const m = this.match(NUMBER_TOKEN);
    if (!m) this.fail("expected a JSON value");
    this.i += m.length;
    return pythonNumber(m);
  }

  private string(): string {
    const m = this.match(STRING_TOKEN);
    if (!m) this.fail("malformed string");
    this.i += m.length;
    return JSON.parse(m) as string;
  }

  private array(): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.space();
    if (this.text[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.space();
      const c = this.text[this.i++];
      if (c === "]") return out;
      if (c !== ",") this.fail("expected , or ]");
    }
  }

  private object(): Map<string, unknown> {
    this.i++;
    const out = new Map<string, unknown>();
    this.space();
    if (this.text[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.i] !== '"') this.fail("expected a key");
      const key = this.string();
      this.space();
      if (this.text[this.i++] !== ":") this.fail("expected :");
      out.set(key, this.value());
      this.space();
      const c = this.text[this.i++];
      if (c === "}") return out;
      if (c !== ",") this.fail("expected , or }");
    }
  }
}

const PY_FLOAT_TEXT: NumberStringifier[] = [
  { test: (v) => v instanceof PyFloat && Number.isFinite(v.value), stringify: (v) => pythonFloat((v as PyFloat).value) },
];

/** Whether a value holds a bigint: an integer parseJsonExact read that a double cannot hold. */
export function holdsBigint(v: unknown): boolean {
  if (typeof v === "bigint") return true;
  if (Array.isArray(v)) return v.some(holdsBigint);
  if (typeof v === "object" && v !== null && !(v instanceof PyFloat)) return Object.values(v).some(holdsBigint);
  return false;
}

/** Whether a value holds a bigint or a PyFloat, which JSON.stringify cannot write as such. */
function holdsExactNumber(v: unknown): boolean {
  if (typeof v === "bigint" || v instanceof PyFloat) return true;
  if (Array.isArray(v)) return v.some(holdsExactNumber);
  if (typeof v === "object" && v !== null) return Object.values(v).some(holdsExactNumber);
  return false;
}

/**
 * JSON.stringify for what parseJsonExact and parseJsonAsPython return: a bigint is written as its
 * digits (JSON.stringify throws on one), a PyFloat as Python writes the float (`2.0`, `1e+16`;
 * JSON.stringify writes 2). Values with neither get JSON.stringify's text, byte for byte.
 */
export function stringifyJsonExact(value: unknown, space?: number): string {
  if (!holdsExactNumber(value)) return JSON.stringify(value, null, space);
  return stringify(value, null, space, PY_FLOAT_TEXT) ?? "null";
}
