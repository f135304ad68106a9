import { PyFloat } from "../matching/pyValue.js";

/**
 * JSON written the way Python's `json.dumps(value, ensure_ascii=False)` writes it, which is what a
 * Hugging Face chat template's `tojson` filter produces (transformers and vLLM both render templates
 * with that filter): ", " between items, ": " after keys, non-ASCII text as is, and floats as
 * Python's repr writes them (1e-05 rather than 0.00001). Keys keep their order; keys whose value is
 * undefined are left out, as JSON.stringify leaves them out.
 *
 * A float with an integral value is written as one when it is a PyFloat (`2.0`; parseJsonAsPython
 * in src/util/exactJson.ts reads one so); JSON.parse has already made the int 2 of it. A plain
 * object's integer-like keys ("2", "10") come first in ascending order (a JS object's order); a Map
 * (parseJsonAsPythonInOrder) is written in its own order, as a Python dict.
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") return pythonNumber(value);
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === "function" ? "null" : pythonJsonDumps(v))).join(", ")}]`;
  if (value instanceof PyFloat) return pythonFloat(value.value);
  if (value instanceof Map)
    return `{${[...(value as Map<unknown, unknown>).entries()]
      .filter(([, v]) => v !== undefined && typeof v !== "function")
      .map(([k, v]) => `${JSON.stringify(String(k))}: ${pythonJsonDumps(v)}`)
      .join(", ")}}`;
  if (typeof value === "object") {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return pythonJsonDumps((toJSON as () => unknown).call(value));
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined && typeof v !== "function")
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonJsonDumps(v)}`)
      .join(", ")}}`;
  }
  if (typeof value === "bigint") return value.toString();
  return "null";
}

/**
 * Python's repr of a float: for an integral value the digits and `.0` below 1e16 (`-0.0` for minus
 * zero), exponent form from 1e16 (`1e+16`); otherwise as pythonNumber writes it.
 */
export function pythonFloat(n: number): string {
  if (!Number.isInteger(n)) return pythonNumber(n);
  if (Math.abs(n) >= 1e16) return n.toExponential();
  return Object.is(n, -0) ? "-0.0" : `${n}.0`;
}

/** Python's float repr: the shortest round-trip digits (as JavaScript's), in exponent form below 1e-4 with a two-digit exponent. */
function pythonNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  const [mantissa, exponent] = n.toExponential().split("e") as [string, string];
  const e = Number(exponent);
  if (e < -4) return `${mantissa}e-${String(-e).padStart(2, "0")}`;
  return String(n);
}
