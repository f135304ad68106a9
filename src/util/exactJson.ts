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

const PY_FLOAT_TEXT: NumberStringifier[] = [
  { test: (v) => v instanceof PyFloat && Number.isFinite(v.value), stringify: (v) => pythonFloat((v as PyFloat).value) },
];

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
