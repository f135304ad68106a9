import { PyFloat, pyIntFromText, setKey } from "./pyValue.js";
import { MatchCall } from "./matchCall.js";

/**
 * JSON parser that keeps Python's int/float distinction (`1` -> int, `1.0` -> PyFloat(1)) and
 * Python's exact ints (one past 2^53 is a bigint), as Python's json.loads does; also accepts NaN/Infinity/-Infinity like Python. Throws SyntaxError
 * with the offset on malformed input.
 */
export function parsePyJson(text: string): unknown {
  return parseWhole(new Parser(text), (p) => p.value());
}

/** Reads one value filling the whole text (whitespace around it allowed). */
function parseWhole(p: Parser, read: (p: Parser) => unknown): unknown {
  p.ws();
  const v = read(p);
  p.ws();
  if (p.i < p.length) p.fail("unexpected trailing data");
  return v;
}

/**
 * Parses a model output in BFCL's decoded form (`[{"func": {"param": value}}, ...]`) straight
 * into a MatchCall list, the matcher's working form, without building the intermediate objects.
 * Any other JSON value is returned as parsePyJson would (BFCL: not in call format).
 */
export function parseBfclResult(text: string): MatchCall[] | unknown {
  return parseWhole(new Parser(text), (p) => p.callList());
}

/**
 * One line of a BFCL outputs file, `{"id": ..., "result": [...]}`: the top-level object with its
 * `result` member parsed by parseBfclResult, every other member as usual.
 */
export function parseBfclOutputLine(text: string): unknown {
  const p = new Parser(text);
  p.callListKey = "result";
  return parseWhole(p, (q) => q.value());
}

/**
 * The engine's interned copy of a function or parameter name. The checker compares names with
 * the compiled labels' (interned) names; interned on both sides that is a pointer comparison,
 * otherwise a character comparison per name. JSON parsers do the same for object keys (V8's
 * JSON.parse and CPython's json scanner memoise them). Bounded: cleared when it grows past a
 * size no real tool set reaches.
 */
const internedNames = new Map<string, string>();
const MAX_INTERNED_NAMES = 65536;
function internName(s: string): string {
  const known = internedNames.get(s);
  if (known !== undefined) return known;
  if (internedNames.size >= MAX_INTERNED_NAMES) internedNames.clear();
  let interned = s;
  for (const k in { [s]: 0 }) interned = k; // a property key is always the interned string
  internedNames.set(interned, interned);
  return interned;
}

const scratchNames: string[] = [];

/**
 * One shared list per distinct argument-name sequence (outputs of one tool repeat the same names
 * in the same order): a parsed output then holds only its values, which keeps a set of outputs
 * small and dense in memory. A trie keyed by interned names, bounded like the interned names.
 */
interface NameListNode {
  next: Map<string, NameListNode> | undefined;
  list: readonly string[] | undefined;
}
let nameLists: NameListNode = { next: undefined, list: undefined };
let nameListNodes = 0;
function sharedNameList(names: string[]): readonly string[] {
  let node = nameLists;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    node.next ??= new Map();
    let child = node.next.get(name);
    if (child === undefined) {
      if (++nameListNodes > MAX_INTERNED_NAMES) {
        nameLists = { next: undefined, list: undefined };
        nameListNodes = 0;
        return names.slice();
      }
      node.next.set(name, (child = { next: undefined, list: undefined }));
    }
    node = child;
  }
  return (node.list ??= names.slice());
}
const scratchValues: unknown[] = [];

const NUMBER_RE = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

class Parser {
  i = 0;
  /** Member of the top-level object whose value is parsed with callList(). */
  callListKey: string | undefined;
  private depth = 0;
  constructor(private readonly s: string) {}

  get length(): number {
    return this.s.length;
  }

  /**
   * A value that is usually BFCL's call list. The common shape is parsed directly into
   * MatchCalls; at the first thing that does not fit (not a list, an item that is not a one-key
   * object whose value is an object) the value is parsed again from its start the general way.
   */
  callList(): MatchCall[] | unknown {
    const start = this.i;
    const s = this.s;
    if (s.charCodeAt(this.i) !== 91 /* [ */) return this.value();
    this.i++;
    const calls: MatchCall[] = [];
    this.ws();
    if (s.charCodeAt(this.i) === 93 /* ] */) {
      this.i++;
      return calls;
    }
    for (;;) {
      this.ws();
      const call = this.oneCall();
      if (call === undefined) {
        this.i = start;
        return this.value();
      }
      calls.push(call);
      this.ws();
      const c = s[this.i++];
      if (c === "]") return calls.slice(); // exact size, as above
      if (c !== ",") {
        this.i--;
        this.fail("expected ',' or ']'");
      }
    }
  }

  /** `{"name": {args}}` as a MatchCall, or undefined when the item has another shape. */
  private oneCall(): MatchCall | undefined {
    const s = this.s;
    if (s.charCodeAt(this.i) !== 123 /* { */) return undefined;
    this.i++;
    this.ws();
    if (s.charCodeAt(this.i) !== 34 /* " */) return undefined;
    const name = internName(this.string());
    this.ws();
    if (s.charCodeAt(this.i) !== 58 /* : */) return undefined;
    this.i++;
    this.ws();
    if (s.charCodeAt(this.i) !== 123) return undefined;
    // Collected in scratch lists and copied out at their exact size: an array grown by push keeps
    // room for 17 items, which for a few arguments triples the output's memory (and the cache
    // lines the checker reads). oneCall does not re-enter: argument values never hold a call list.
    const names = scratchNames;
    const values = scratchValues;
    names.length = 0;
    values.length = 0;
    this.i++;
    this.ws();
    if (s.charCodeAt(this.i) === 125 /* } */) this.i++;
    else {
      for (;;) {
        this.ws();
        if (s.charCodeAt(this.i) !== 34) this.fail("expected a string key");
        const k = internName(this.string());
        this.ws();
        if (s[this.i++] !== ":") {
          this.i--;
          this.fail("expected ':'");
        }
        this.ws();
        const v = this.value();
        // A repeated key keeps its first position and takes the last value, as Python's dict does.
        const at = names.indexOf(k);
        if (at >= 0) values[at] = v;
        else {
          names.push(k);
          values.push(v);
        }
        this.ws();
        const c = s[this.i++];
        if (c === "}") break;
        if (c !== ",") {
          this.i--;
          this.fail("expected ',' or '}'");
        }
      }
    }
    this.ws();
    // Exactly one key: a second member (or a malformed end) is not BFCL's call shape.
    if (s.charCodeAt(this.i) !== 125) return undefined;
    this.i++;
    const call = new MatchCall(name, sharedNameList(names), values.slice());
    values.length = 0; // drop the references
    return call;
  }

  fail(msg: string): never {
    throw new SyntaxError(`${msg} at offset ${this.i}`);
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }

  value(): unknown {
    const s = this.s;
    const c = s[this.i];
    switch (c) {
      case "{":
        return this.object();
      case "[":
        return this.array();
      case '"':
        return this.string();
      case "t":
        return this.literal("true", true);
      case "f":
        return this.literal("false", false);
      case "n":
        return this.literal("null", null);
      case "N":
        return this.literal("NaN", NaN);
      case "I":
        return this.literal("Infinity", Infinity);
      default:
        if (c === "-" && s.startsWith("-Infinity", this.i)) return this.literal("-Infinity", -Infinity);
        return this.number();
    }
  }

  literal(word: string, v: unknown): unknown {
    if (!this.s.startsWith(word, this.i)) this.fail("unexpected token");
    this.i += word.length;
    return v;
  }

  /**
   * Python's json.loads number: an int (a number, or a bigint for one a double cannot hold, so
   * 12345678901234567890 and ...891 stay two values, as in Python), a float (PyFloat when integral).
   * Only literals of 16+ characters can need a bigint; shorter ones take the plain path.
   */
  number(): number | bigint | PyFloat {
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(this.s);
    if (!m || m[0].length === 0 || m[0] === "-") this.fail("expected a value");
    const text = m[0];
    this.i += text.length;
    const n = Number(text);
    if (m[1] === undefined && m[2] === undefined) return text.length > 15 ? pyIntFromText(text, n) : n;
    return Number.isInteger(n) ? new PyFloat(n) : n;
  }

  /**
   * A string token. The scan finds its end and checks it; the text is then copied out: short
   * strings by slice (V8 copies those), longer ones through JSON.parse (which also decodes the
   * escapes, with JSON's rules, which are Python's). A slice of 13+ characters would be a view
   * into the whole input, keeping it alive and making every read of the string go through it.
   */
  string(): string {
    const s = this.s;
    const start = this.i;
    this.i++;
    let escaped = false;
    for (;;) {
      if (this.i >= s.length) this.fail("unterminated string");
      const c = s.charCodeAt(this.i);
      if (c === 34) break;
      if (c < 32) this.fail("invalid control character in string");
      if (c === 92) {
        escaped = true;
        this.i += 2;
      } else this.i++;
    }
    this.i++;
    if (!escaped && this.i - start < 15) return s.slice(start + 1, this.i - 1);
    try {
      return JSON.parse(s.slice(start, this.i)) as string;
    } catch {
      this.i = start;
      return this.fail("invalid escape in string");
    }
  }

  array(): unknown[] {
    this.depth++;
    const v = this.arrayBody();
    this.depth--;
    return v;
  }

  private arrayBody(): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === "]") return out;
      if (c !== ",") {
        this.i--;
        this.fail("expected ',' or ']'");
      }
    }
  }

  // depth counts the containers open around the current value (no need to unwind it on a throw:
  // a parse that throws is abandoned).
  object(): Record<string, unknown> {
    this.depth++;
    const v = this.objectBody();
    this.depth--;
    return v;
  }

  private objectBody(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail("expected a string key");
      const k = this.string();
      this.ws();
      if (this.s[this.i++] !== ":") {
        this.i--;
        this.fail("expected ':'");
      }
      this.ws();
      setKey(out, k, this.depth === 1 && k === this.callListKey ? this.callList() : this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === "}") return out;
      if (c !== ",") {
        this.i--;
        this.fail("expected ',' or '}'");
      }
    }
  }
}

/** JSON text that keeps floats as floats (`PyFloat(3)` -> `3.0`), for handing values to Python. */
export function stringifyPyJson(v: unknown): string {
  if (v instanceof PyFloat) {
    if (!Number.isFinite(v.value)) return Number.isNaN(v.value) ? "NaN" : v.value > 0 ? "Infinity" : "-Infinity";
    return Number.isInteger(v.value) && !/e/i.test(String(v.value)) ? `${v.value}.0` : String(v.value);
  }
  if (typeof v === "bigint") return String(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
    return String(v);
  }
  if (v === null || v === undefined) return "null";
  if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stringifyPyJson).join(", ")}]`;
  if (typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${JSON.stringify(k)}: ${stringifyPyJson(x)}`)
      .join(", ")}}`;
  }
  return JSON.stringify(String(v));
}
