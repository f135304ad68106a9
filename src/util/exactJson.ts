/**
 * JSON whose integers keep every digit. A tool call's `function.arguments` is JSON text the model
 * wrote, and it may hold an integer a double cannot (an order id such as 12345678901234567890):
 * JSON.parse reads the nearest double, 12345678901234567000, and writing that back changes the
 * label. Python's json.loads, which verl, vLLM's chat templates and BFCL's checker use, keeps it
 * exact, so wherever arguments are parsed to be written again (training files, judge prompts,
 * canonical keys) they are read here: such an integer becomes a bigint, every other value is what
 * JSON.parse gives (other numbers are doubles, as in Python). Uses lossless-json's parser for those
 * texts only; the rest goes through JSON.parse (a number needing more than a double has 16+ digits).
 */
import { isInteger, isSafeNumber, parse, stringify } from "lossless-json";

/** A run of 16 digits: the shortest integer a double may not hold (2^53 has 16 digits). */
const MAYBE_UNSAFE = /\d{16}/;

/** An integer literal a double cannot hold exactly as a bigint; other numbers as JSON.parse reads them. */
const exactNumber = (digits: string): unknown => (isInteger(digits) && !isSafeNumber(digits) ? BigInt(digits) : Number(digits));

/**
 * JSON.parse, except that integers a double cannot hold are bigints (exact). Throws SyntaxError on
 * malformed text; a key given twice keeps its last value, as with JSON.parse.
 */
export function parseJsonExact(text: string): unknown {
  if (!MAYBE_UNSAFE.test(text)) return JSON.parse(text);
  return parse(text, null, { parseNumber: exactNumber, onDuplicateKey: ({ newValue }) => newValue });
}

/**
 * JSON.stringify for what parseJsonExact returns: a bigint is written as its digits (JSON.stringify
 * throws on one). Values without a bigint get JSON.stringify's text, byte for byte.
 */
export function stringifyJsonExact(value: unknown, space?: number): string {
  try {
    return JSON.stringify(value, null, space);
  } catch (err) {
    if (!(err instanceof TypeError && /BigInt/i.test(err.message))) throw err;
    return stringify(value, null, space) ?? "null";
  }
}
