/**
 * The one way we read a JSON file a person gives us (campaign configs, tool files): bounded in size
 * before anything is read, one UTF-8 BOM tolerated, and every failure one sentence naming the file
 * (and, for bad JSON, the line and column).
 */
import fs from "node:fs";
import { parseJsonExact } from "./exactJson.js";

export type JsonFileProblem = "not_found" | "not_a_file" | "too_large" | "unreadable" | "not_utf8" | "invalid_json";

export class JsonFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: JsonFileProblem,
    message: string,
  ) {
    super(message);
    this.name = "JsonFileError";
  }
}

export interface JsonFileOptions {
  /** Refuse files larger than this many bytes (checked before reading, and while reading for pipes). */
  maxBytes: number;
  /** What the file is, for the size message: "a campaign config", "a tool file". */
  what: string;
  /** Read an integer a double cannot hold as a bigint (parseJsonExact), for a caller that checks such integers. */
  exactIntegers?: boolean;
}

export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ["TiB", 1024 ** 4],
    ["GiB", 1024 ** 3],
  ] as const)
    if (n >= size) return `${(n / size).toFixed(n % size === 0 ? 0 : 1)} ${unit}`;
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB`;
  return `${n} bytes`;
}

function tooLarge(file: string, size: number | undefined, o: JsonFileOptions): JsonFileError {
  const found = size === undefined ? `more than ${formatBytes(o.maxBytes)}` : formatBytes(size);
  return new JsonFileError(file, "too_large", `${file} is ${found}; ${o.what} may be at most ${formatBytes(o.maxBytes)}`);
}

function readError(file: string, err: unknown): JsonFileError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new JsonFileError(file, "not_found", `file not found: ${file}`);
  if (code === "EISDIR") return new JsonFileError(file, "not_a_file", `${file} is a directory, not a JSON file`);
  return new JsonFileError(file, "unreadable", `cannot read ${file}: ${code ?? (err instanceof Error ? err.message : String(err))}`);
}

/**
 * Offset of the first syntax error in `text`, or undefined when it is valid JSON. Node 20's
 * JSON.parse often names no position ("Unexpected token '}', ... is not valid JSON"), so we find it
 * with an iterative scan (no recursion: a deeply nested file must not overflow the stack here either).
 */
export function jsonSyntaxErrorOffset(text: string): number | undefined {
  const n = text.length;
  const stack: string[] = [];
  let i = 0;
  let state: "value" | "firstValue" | "key" | "firstKey" | "colon" | "after" = "value";
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  /** End of the string starting at `start` (a quote), or -(offset of the error) - 1. */
  const stringEnd = (start: number): number => {
    for (let j = start + 1; j < n; j++) {
      const c = text.charCodeAt(j);
      if (c === 0x22) return j + 1;
      if (c < 0x20) return -j - 1;
      if (c === 0x5c) {
        const e = text[j + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) return -j - 1;
          j += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) j += 1;
        else return -j - 1;
      }
    }
    return -n - 1;
  };
  for (;;) {
    while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
    if (i >= n) return state === "after" && stack.length === 0 ? undefined : n;
    const c = text[i] as string;
    // Right after an opening bracket, the matching close is allowed; anything else is a value or key.
    if ((state === "firstValue" && c === "]") || (state === "firstKey" && c === "}")) {
      stack.pop();
      i++;
      state = "after";
      continue;
    }
    if (state === "firstValue") state = "value";
    else if (state === "firstKey") state = "key";
    switch (state) {
      case "value": {
        if (c === "{" || c === "[") {
          stack.push(c);
          i++;
          state = c === "{" ? "firstKey" : "firstValue";
          continue;
        }
        if (c === '"') {
          const end = stringEnd(i);
          if (end < 0) return -end - 1;
          i = end;
        } else if (text.startsWith("true", i)) i += 4;
        else if (text.startsWith("false", i)) i += 5;
        else if (text.startsWith("null", i)) i += 4;
        else {
          number.lastIndex = i;
          if (!number.test(text)) return i;
          i = number.lastIndex;
        }
        state = "after";
        continue;
      }
      case "key": {
        if (c !== '"') return i;
        const end = stringEnd(i);
        if (end < 0) return -end - 1;
        i = end;
        state = "colon";
        continue;
      }
      case "colon":
        if (c !== ":") return i;
        i++;
        state = "value";
        continue;
      case "after": {
        const top = stack.at(-1);
        if (top === undefined) return i; // content after the value
        if (c === ",") {
          i++;
          state = top === "{" ? "key" : "value";
        } else if ((c === "}" && top === "{") || (c === "]" && top === "[")) {
          stack.pop();
          i++;
        } else return i;
        continue;
      }
    }
  }
}

/** 1-based line and column of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** Parses JSON text that came from `file`; a syntax error names the file, line and column. */
export function parseJsonText(text: string, file: string, exactIntegers = false): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    const value = JSON.parse(body) as unknown;
    // Only a text with 16 digits in a row can hold such an integer; the rest keeps JSON.parse's reading.
    return exactIntegers && /\d{16}/.test(body) ? exactReading(body, value) : value;
  } catch (err) {
    if (body.trim() === "") throw new JsonFileError(file, "invalid_json", `${file} is empty; expected JSON`);
    const offset = jsonSyntaxErrorOffset(body);
    // Strip V8's own position and its quote of the text: ours is clearer, and the quote can be huge.
    const detail = (err as Error).message.replace(/(?: in JSON)? at position \d+.*$/s, "").replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, "");
    const where = offset === undefined ? "" : (({ line, column }) => ` at line ${line} column ${column}`)(lineColumn(body, offset));
    throw new JsonFileError(file, "invalid_json", `${file}: invalid JSON${where}: ${detail}`);
  }
}

/** parseJsonExact's reading of valid JSON; JSON.parse's where that parser's recursion runs out (a file nested too deep for any use). */
function exactReading(body: string, parsed: unknown): unknown {
  try {
    return parseJsonExact(body);
  } catch (err) {
    if (err instanceof RangeError) return parsed;
    throw err;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decode(file: string, bytes: Uint8Array, exactIntegers = false): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new JsonFileError(file, "not_utf8", `${file} is not UTF-8 text`);
  }
  return parseJsonText(text, file, exactIntegers);
}

/**
 * Room for the next read: starts at the file's size (+1, to see that it did not grow), doubles for
 * pipes and devices (whose size reads 0), and never exceeds maxBytes + 1, the byte that proves a
 * file too large without draining it.
 */
function grow(buf: Buffer<ArrayBuffer>, used: number, file: string, o: JsonFileOptions): Buffer<ArrayBuffer> {
  if (used < buf.length) return buf;
  if (used > o.maxBytes) throw tooLarge(file, undefined, o);
  const bigger = Buffer.alloc(Math.min(o.maxBytes + 1, buf.length * 2));
  buf.copy(bigger, 0, 0, used);
  return bigger;
}

const initialBuffer = (size: number, o: JsonFileOptions): Buffer<ArrayBuffer> => Buffer.alloc(Math.min(o.maxBytes + 1, Math.max(size + 1, 64 * 1024)));

/** Reads and parses a JSON file; every failure is a JsonFileError with a one-line message. */
export function readJsonFileSync(file: string, o: JsonFileOptions): unknown {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (err) {
    throw readError(file, err);
  }
  let bytes: Uint8Array;
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw new JsonFileError(file, "not_a_file", `${file} is a directory, not a JSON file`);
    if (st.size > o.maxBytes) throw tooLarge(file, st.size, o);
    let buf = initialBuffer(st.size, o);
    let used = 0;
    for (;;) {
      buf = grow(buf, used, file, o);
      const got = fs.readSync(fd, buf, used, buf.length - used, null);
      if (got === 0) break;
      used += got;
    }
    bytes = buf.subarray(0, used);
  } catch (err) {
    throw err instanceof JsonFileError ? err : readError(file, err);
  } finally {
    fs.closeSync(fd);
  }
  return decode(file, bytes, o.exactIntegers);
}

/** Async form of readJsonFileSync for loaders on the worker's event loop. */
export async function readJsonFile(file: string, o: JsonFileOptions): Promise<unknown> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, "r");
  } catch (err) {
    throw readError(file, err);
  }
  let bytes: Uint8Array;
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new JsonFileError(file, "not_a_file", `${file} is a directory, not a JSON file`);
    if (st.size > o.maxBytes) throw tooLarge(file, st.size, o);
    let buf = initialBuffer(st.size, o);
    let used = 0;
    for (;;) {
      buf = grow(buf, used, file, o);
      const { bytesRead } = await handle.read(buf, used, buf.length - used, null);
      if (bytesRead === 0) break;
      used += bytesRead;
    }
    bytes = buf.subarray(0, used);
  } catch (err) {
    throw err instanceof JsonFileError ? err : readError(file, err);
  } finally {
    await handle.close();
  }
  return decode(file, bytes, o.exactIntegers);
}
