import type { DecodeErrorKind, DecodeResult, DecodedCall } from "./types.js";
import { parsePyJson } from "./pyJson.js";
import { PyFloat, isDict, makeTuple, pyFloat, pyIntFromText, setKey } from "./pyValue.js";

/**
 * Decoders from model output to calls. They never throw: any malformed input becomes a typed
 * failure. Values follow the pyValue.ts model (int vs float kept, tuples marked), so the BFCL
 * checker sees what Python would.
 */
const failure = (kind: DecodeErrorKind, reason: string): DecodeResult => ({ ok: false, error: { kind, reason } });

/** OpenAI `tool_calls` (arguments are JSON text). No tool calls at all is an "empty" failure. */
export function decodeOpenAiToolCalls(toolCalls: { function: { name: string; arguments: string } }[] | undefined | null): DecodeResult {
  if (toolCalls === undefined || toolCalls === null || (Array.isArray(toolCalls) && toolCalls.length === 0)) {
    return failure("empty", "no tool calls");
  }
  if (!Array.isArray(toolCalls)) return failure("not_a_call", "tool_calls is not an array");
  const calls: DecodedCall[] = [];
  for (const [i, tc] of (toolCalls as unknown[]).entries()) {
    const fn = isDict(tc) ? tc.function : undefined;
    if (!isDict(fn) || typeof fn.name !== "string" || fn.name === "") {
      return failure("not_a_call", `tool_calls[${i}].function.name is missing or not a string`);
    }
    const args = typeof fn.arguments === "string" ? parseArgs(fn.arguments) : isDict(fn.arguments) ? fn.arguments : undefined;
    if (args === undefined || typeof args === "string") {
      return failure("bad_arguments_json", `tool_calls[${i}] (${fn.name}): ${typeof args === "string" ? args : "arguments must be a JSON object string"}`);
    }
    calls.push({ name: fn.name, args });
  }
  return { ok: true, calls };
}

/** Parses a JSON object; returns an error message string on failure. */
function parseArgs(text: string): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = parsePyJson(text);
  } catch (err) {
    return `arguments are not valid JSON (${(err as Error).message})`;
  }
  return isDict(v) ? v : "arguments JSON is not an object";
}

/** Hermes / Qwen style: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks. */
export function decodeHermes(text: string): DecodeResult {
  if (typeof text !== "string" || text.trim() === "") return failure("empty", "empty output");
  const blocks: string[] = [];
  const re = /<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/g;
  for (const m of text.matchAll(re)) blocks.push(m[1]!);
  if (blocks.length === 0) return failure("not_a_call", "no <tool_call> block in the output");
  const calls: DecodedCall[] = [];
  for (const [i, block] of blocks.entries()) {
    let v: unknown;
    try {
      v = parsePyJson(block.trim());
    } catch (err) {
      return failure("syntax", `<tool_call> block ${i} is not valid JSON (${(err as Error).message})`);
    }
    if (!isDict(v) || typeof v.name !== "string" || v.name === "") {
      return failure("not_a_call", `<tool_call> block ${i} has no string "name"`);
    }
    let args: unknown = v.arguments ?? v.parameters ?? {};
    if (typeof args === "string") {
      const parsed = parseArgs(args);
      if (typeof parsed === "string") return failure("bad_arguments_json", `<tool_call> block ${i} (${v.name}): ${parsed}`);
      args = parsed;
    }
    if (!isDict(args)) return failure("bad_arguments_json", `<tool_call> block ${i} (${v.name}): "arguments" is not an object`);
    calls.push({ name: v.name, args });
  }
  return { ok: true, calls };
}

/**
 * BFCL prompting style: `[f(a=1), mod.g(x='y')]`, a restricted Python expression parsed without
 * eval. Follows BFCL's default_decode_ast_prompting pre-processing (strip backticks/newlines,
 * add missing brackets). Positional arguments, operators and f-strings are rejected.
 */
export function decodeBfclPython(text: string): DecodeResult {
  if (typeof text !== "string") return failure("empty", "output is not a string");
  let s = stripChars(text, "`\n ");
  if (s === "") return failure("empty", "empty output");
  if (!s.startsWith("[")) s = "[" + s;
  if (!s.endsWith("]")) s = s + "]";
  s = stripChars(s.trim(), "'");
  try {
    const p = new PyParser(s);
    const calls = p.parseTop();
    return { ok: true, calls };
  } catch (err) {
    if (err instanceof DecodeFailure) return failure(err.kind, err.message);
    return failure("syntax", (err as Error).message);
  }
}

function stripChars(s: string, chars: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && chars.includes(s[a]!)) a++;
  while (b > a && chars.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}

class DecodeFailure extends Error {
  constructor(
    readonly kind: DecodeErrorKind,
    message: string,
  ) {
    super(message);
  }
}

const IDENT_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER_RE = /(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)[jJ]?/y;
const STRING_PREFIX_RE = /([rRbBuUfF]{0,2})("""|'''|"|')/y;

class PyParser {
  private i = 0;
  constructor(private readonly s: string) {}

  private err(kind: DecodeErrorKind, msg: string): never {
    throw new DecodeFailure(kind, `${msg} at offset ${this.i}`);
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  private peek(): string | undefined {
    this.ws();
    return this.s[this.i];
  }

  private expect(ch: string): void {
    if (this.peek() !== ch) this.err("syntax", `expected '${ch}'`);
    this.i++;
  }

  parseTop(): DecodedCall[] {
    this.expect("[");
    const calls: DecodedCall[] = [];
    if (this.peek() === "]") {
      this.i++;
    } else {
      for (;;) {
        const v = this.value();
        if (!(v instanceof CallNode)) this.err("not_a_call", "list element is not a function call");
        calls.push(v.toDecoded(this));
        const c = this.peek();
        this.i++;
        if (c === "]") break;
        if (c !== ",") this.err("syntax", "expected ',' or ']'");
        if (this.peek() === "]") {
          this.i++;
          break;
        }
      }
    }
    if (this.peek() !== undefined) this.err("syntax", "unexpected text after the call list");
    return calls;
  }

  /** Any expression we support; calls come back as CallNode so the caller decides their meaning. */
  value(): unknown {
    const c = this.peek();
    if (c === undefined) this.err("syntax", "unexpected end of input");
    if (c === "[") return this.sequence("[", "]", false);
    if (c === "(") return this.sequence("(", ")", true);
    if (c === "{") return this.dict();
    if (c === "-" || c === "+") {
      this.i++;
      const n = this.value();
      if (typeof n === "number" || typeof n === "bigint") return c === "-" ? -n : n;
      if (n instanceof PyFloat) return pyFloat(c === "-" ? -n.value : n.value);
      this.err("unsupported_value", `unary '${c}' on a non-number`);
    }
    if (c === "." && this.s.startsWith("...", this.i)) {
      this.i += 3;
      return "...";
    }
    STRING_PREFIX_RE.lastIndex = this.i;
    const sm = STRING_PREFIX_RE.exec(this.s);
    if (sm) return this.strings();
    if (/[0-9.]/.test(c)) return this.number();
    IDENT_RE.lastIndex = this.i;
    const im = IDENT_RE.exec(this.s);
    if (!im) this.err("syntax", `unexpected character '${c}'`);
    this.i += im[0].length;
    const word = im[0];
    let dotted = word;
    for (;;) {
      const save = this.i;
      if (this.peek() === ".") {
        this.i++;
        this.ws();
        IDENT_RE.lastIndex = this.i;
        const more = IDENT_RE.exec(this.s);
        if (!more) {
          this.i = save;
          break;
        }
        this.i += more[0].length;
        dotted += "." + more[0];
      } else break;
    }
    if (this.peek() === "(") return this.call(dotted);
    if (dotted === "True") return true;
    if (dotted === "False") return false;
    if (dotted === "None") return null;
    // BFCL keeps a bare variable name as its identifier string.
    return dotted;
  }

  private call(name: string): CallNode {
    const start = this.i;
    this.expect("(");
    const node = new CallNode(name);
    if (this.peek() === ")") {
      this.i++;
      node.source = name + this.s.slice(start, this.i);
      return node;
    }
    for (;;) {
      this.ws();
      IDENT_RE.lastIndex = this.i;
      const km = IDENT_RE.exec(this.s);
      let keyword: string | undefined;
      if (km) {
        const after = this.i + km[0].length;
        const rest = this.s.slice(after).trimStart();
        if (rest.startsWith("=") && !rest.startsWith("==")) {
          keyword = km[0];
          this.i = this.s.indexOf("=", after) + 1;
        }
      }
      const v = this.value();
      if (keyword === undefined) node.positional++;
      else {
        if (Object.prototype.hasOwnProperty.call(node.kwargs, keyword)) this.err("syntax", `keyword argument repeated: ${keyword}`);
        node.keys.push(keyword);
        setKey(node.kwargs, keyword, v);
      }
      const c = this.peek();
      this.i++;
      if (c === ")") break;
      if (c !== ",") this.err("syntax", "expected ',' or ')' in call");
      if (this.peek() === ")") {
        this.i++;
        break;
      }
    }
    node.source = name + this.s.slice(start, this.i);
    return node;
  }

  private sequence(open: string, close: string, tuple: boolean): unknown {
    this.expect(open);
    const items: unknown[] = [];
    let sawComma = false;
    if (this.peek() === close) {
      this.i++;
      return tuple ? makeTuple(items) : items;
    }
    for (;;) {
      items.push(this.plain(this.value()));
      const c = this.peek();
      this.i++;
      if (c === close) break;
      if (c !== ",") this.err("syntax", `expected ',' or '${close}'`);
      sawComma = true;
      if (this.peek() === close) {
        this.i++;
        break;
      }
    }
    // `(x)` is just a parenthesised value; only a comma makes a tuple.
    if (tuple && !sawComma) return items[0];
    return tuple ? makeTuple(items) : items;
  }

  private dict(): Record<string, unknown> {
    this.expect("{");
    const out: Record<string, unknown> = {};
    if (this.peek() === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      const k = this.plain(this.value());
      if (typeof k !== "string") this.err("unsupported_value", "only string dict keys are supported");
      this.expect(":");
      setKey(out, k, this.plain(this.value()));
      const c = this.peek();
      this.i++;
      if (c === "}") break;
      if (c !== ",") this.err("syntax", "expected ',' or '}'");
      if (this.peek() === "}") {
        this.i++;
        break;
      }
    }
    return out;
  }

  /** Converts a nested call into BFCL's value form: `{name: kwargs}`, or its source text without kwargs. */
  plain(v: unknown): unknown {
    if (!(v instanceof CallNode)) return v;
    if (v.positional > 0 || v.keys.length === 0) return v.source;
    return { [v.name]: v.kwargs };
  }

  /** A number literal; ints are exact, as in Python (a bigint past 2^53). */
  private number(): number | bigint | ReturnType<typeof pyFloat> {
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(this.s);
    if (!m || m[0] === "" || m[0] === ".") this.err("syntax", "bad number");
    this.i += m[0].length;
    const raw = m[0].replace(/_/g, "");
    if (/[jJ]$/.test(raw)) this.err("unsupported_value", "complex numbers are not supported");
    if (/^0[xXoObB]/.test(raw)) {
      const base = { x: 16, o: 8, b: 2 }[raw[1]!.toLowerCase() as "x" | "o" | "b"];
      const n = parseInt(raw.slice(2), base);
      return Number.isSafeInteger(n) ? n : BigInt(raw);
    }
    if (/[.eE]/.test(raw)) return pyFloat(Number(raw));
    if (/^0\d/.test(raw) && !/^0+$/.test(raw)) this.err("syntax", "leading zeros in an integer");
    return pyIntFromText(raw);
  }

  /** One or more adjacent string literals (Python concatenates them). */
  private strings(): string {
    let out = "";
    for (;;) {
      this.ws();
      STRING_PREFIX_RE.lastIndex = this.i;
      const m = STRING_PREFIX_RE.exec(this.s);
      if (!m) return out;
      const prefix = m[1]!.toLowerCase();
      if (prefix.includes("f")) this.err("unsupported_value", "f-strings are not supported");
      if (prefix.includes("b")) this.err("unsupported_value", "bytes literals are not supported");
      if (/^[a-z]*$/.test(prefix) && prefix.length > 0 && !/^(r|u|)$/.test(prefix)) this.err("syntax", `bad string prefix '${m[1]}'`);
      const quote = m[2]!;
      this.i += m[0].length;
      const raw = prefix.includes("r");
      const triple = quote.length === 3;
      let buf = "";
      for (;;) {
        if (this.i >= this.s.length) this.err("syntax", "unterminated string");
        if (this.s.startsWith(quote, this.i)) {
          this.i += quote.length;
          break;
        }
        const ch = this.s[this.i]!;
        if (ch === "\n" && !triple) this.err("syntax", "newline in a string literal");
        if (ch === "\\") {
          const next = this.s[this.i + 1];
          if (next === undefined) this.err("syntax", "unterminated string");
          if (raw) {
            buf += ch + next;
            this.i += 2;
            continue;
          }
          this.i += 2;
          buf += this.escape(next);
          continue;
        }
        buf += ch;
        this.i++;
      }
      out += buf;
    }
  }

  private escape(e: string): string {
    const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"', a: "\x07", b: "\b", f: "\f", v: "\v", "\n": "" };
    const hit = simple[e];
    if (hit !== undefined) return hit;
    const hexLen = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
    if (hexLen > 0) {
      const hex = this.s.slice(this.i, this.i + hexLen);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(hex)) this.err("syntax", `bad \\${e} escape`);
      this.i += hexLen;
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) this.err("syntax", "escape out of range");
      return String.fromCodePoint(cp);
    }
    if (/[0-7]/.test(e)) {
      let oct = e;
      while (oct.length < 3 && /[0-7]/.test(this.s[this.i] ?? "")) oct += this.s[this.i++];
      return String.fromCodePoint(parseInt(oct, 8));
    }
    if (e === "N") this.err("unsupported_value", "\\N{...} escapes are not supported");
    return "\\" + e; // Python keeps unknown escapes verbatim
  }
}

class CallNode {
  kwargs: Record<string, unknown> = {};
  keys: string[] = [];
  positional = 0;
  source = "";
  constructor(readonly name: string) {}

  toDecoded(p: PyParser): DecodedCall {
    if (this.positional > 0)
      throw new DecodeFailure("unsupported_value", `${this.name}: positional arguments are not supported (BFCL reads keyword arguments only)`);
    const args: Record<string, unknown> = {};
    for (const k of this.keys) setKey(args, k, p.plain(this.kwargs[k]));
    return { name: this.name, args };
  }
}
