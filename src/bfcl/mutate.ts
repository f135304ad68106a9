import type { BfclEntry } from "./data.js";
import { isRelevanceCategory } from "./data.js";
import type { FunctionDoc } from "../matching/types.js";
import { languageOf } from "../matching/bfclChecker.js";
import { PyFloat, isDict, pyType } from "../matching/pyValue.js";
import { renderJava, renderJs } from "./render.js";

/**
 * Deterministic output generators over BFCL entries, used by the differential test (our checker vs
 * the official one) and the matcher benchmark. Each variant is an output in BFCL's decoded form.
 */
export interface OutputVariant {
  variant: string;
  result: unknown;
}

type Call = Record<string, Record<string, unknown>>;

/** The first acceptable value of a candidate list, recursively for dict answers; undefined = omit. */
function pickCandidate(cands: unknown, index: number): unknown {
  if (!Array.isArray(cands)) return cands;
  const pick = cands.length > index ? cands[index] : cands[0];
  return pick === "" ? undefined : concretise(pick);
}

/** Dict answers hold `{key: [candidates]}`; a list may hold such dicts. */
function concretise(v: unknown): unknown {
  if (isDict(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, c] of Object.entries(v)) {
      const x = Array.isArray(c) ? pickCandidate(c, 0) : c;
      if (x !== undefined) out[k] = x;
    }
    return out;
  }
  if (Array.isArray(v)) return v.map((x) => (isDict(x) ? concretise(x) : x));
  return v;
}

function docFor(entry: BfclEntry, name: string): FunctionDoc | undefined {
  return entry.function.find((f) => f.name === name) ?? (entry.function.length === 1 ? entry.function[0] : undefined);
}

/**
 * Builds an output from the answer, picking candidate `index` per parameter (first when absent).
 * A required parameter never takes the "omit" candidate. Single-function categories use the
 * doc's name, which is what the checker compares with (the answer's name differs in a few entries).
 */
export function answerOutput(entry: BfclEntry, index = 0, omitOptional = false): Call[] {
  const lang = languageOf(entry.category);
  const singleFunction = !entry.category.includes("parallel") && !entry.category.includes("multiple");
  return (entry.answer ?? []).map((expected) => {
    const [answerName, params] = Object.entries(expected)[0] ?? ["", {}];
    const doc = singleFunction ? entry.function[0] : docFor(entry, answerName);
    const name = singleFunction && doc ? doc.name : answerName;
    const required = new Set(doc?.parameters?.required ?? []);
    const args: Record<string, unknown> = {};
    for (const [p, rawCands] of Object.entries(params)) {
      if (omitOptional && Array.isArray(rawCands) && rawCands.includes("")) continue;
      // A required parameter whose only candidate is "" can still pass with the empty string as its value.
      const nonEmpty = Array.isArray(rawCands) ? rawCands.filter((c) => c !== "") : rawCands;
      const requiredEmptyOnly = required.has(p) && Array.isArray(rawCands) && rawCands.length > 0 && Array.isArray(nonEmpty) && nonEmpty.length === 0;
      const v = requiredEmptyOnly ? "" : pickCandidate(required.has(p) ? nonEmpty : rawCands, index);
      if (v === undefined) continue;
      const pdoc = doc?.parameters?.properties?.[p];
      args[p] = lang === "java" ? renderJava(v, pdoc) : lang === "javascript" ? renderJs(v, pdoc) : v;
    }
    return { [name]: args };
  });
}

const clone = <T>(x: T): T => cloneValue(x) as T;
function cloneValue(x: unknown): unknown {
  if (x instanceof PyFloat) return new PyFloat(x.value);
  if (Array.isArray(x)) return x.map(cloneValue);
  if (isDict(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, cloneValue(v)]));
  return x;
}

function wrongType(v: unknown, lang: string): unknown {
  if (lang !== "python") return typeof v === "string" ? 7 : "x";
  switch (pyType(v)) {
    case "str":
      return 123;
    case "int":
    case "float":
      return String(Number(v));
    case "bool":
      return v ? "true" : "false";
    case "list":
      return "[]";
    case "dict":
      return [];
    default:
      return "None";
  }
}

function wrongValue(v: unknown): unknown {
  if (typeof v === "string") return v + "zq";
  if (typeof v === "boolean") return !v;
  if (typeof v === "number") return v + 1;
  if (v instanceof PyFloat) return new PyFloat(v.value + 1);
  if (Array.isArray(v)) return v.length > 0 ? v.slice(1) : ["zq"];
  if (isDict(v)) return { ...v, zq: 1 };
  return "zq";
}

/** Upper-cases and adds ignorable punctuation, which BFCL's normalisation should forgive. */
function caseAndPunct(v: unknown): unknown {
  if (typeof v === "string") return v.toUpperCase().replace(/ /g, "_") + ".";
  if (Array.isArray(v)) return v.map(caseAndPunct);
  return v;
}

function intFloatSwap(v: unknown): unknown {
  if (v instanceof PyFloat) return v.value; // integral float -> int
  if (typeof v === "number") return Number.isInteger(v) ? new PyFloat(v) : Math.round(v);
  if (Array.isArray(v)) return v.map(intFloatSwap);
  return v;
}

function nestedChange(v: unknown): unknown {
  if (Array.isArray(v)) {
    if (v.length === 0) return [1];
    const copy = clone(v);
    copy[copy.length - 1] = isDict(copy[copy.length - 1]) ? nestedChange(copy[copy.length - 1]) : wrongValue(copy[copy.length - 1]);
    return copy;
  }
  if (isDict(v)) {
    const keys = Object.keys(v);
    if (keys.length === 0) return { extra: 1 };
    const copy = clone(v);
    if (keys.length > 1) delete copy[keys[0]!];
    else copy[keys[0]!] = wrongValue(copy[keys[0]!]);
    return copy;
  }
  return v;
}

function javaSourceTweak(v: unknown): unknown {
  if (typeof v !== "string") return v;
  if (/^-?\d+$/.test(v)) return `${v}L`;
  if (/^-?\d+[lL]$/.test(v)) return v.slice(0, -1);
  if (/^-?\d+\.\d+$/.test(v)) return `${v}f`;
  if (/^-?\d+(\.\d+)?[fF]$/.test(v)) return v.slice(0, -1);
  if (v === "true" || v === "false") return v.toUpperCase();
  return `"${v}"`;
}

function mapFirstParam(calls: Call[], f: (v: unknown) => unknown): Call[] | undefined {
  const out = clone(calls);
  const first = out[0];
  if (!first) return undefined;
  const args = Object.values(first)[0]!;
  const key = Object.keys(args)[0];
  if (key === undefined) return undefined;
  args[key] = f(args[key]);
  return out;
}

function mapAllValues(calls: Call[], f: (v: unknown) => unknown): Call[] {
  return clone(calls).map((c) => {
    const [name, args] = Object.entries(c)[0]!;
    return { [name]: Object.fromEntries(Object.entries(args).map(([k, v]) => [k, f(v)])) };
  });
}

export function generateVariants(entry: BfclEntry): OutputVariant[] {
  const out: OutputVariant[] = [];
  const add = (variant: string, result: unknown) => {
    if (result !== undefined) out.push({ variant, result });
  };
  if (isRelevanceCategory(entry.category)) {
    const fn = entry.function[0];
    add("no_call", []);
    add("text", "I cannot help with that.");
    if (fn) {
      const firstRequired = fn.parameters?.required?.[0];
      add("call", [{ [fn.name]: firstRequired ? { [firstRequired]: "x" } : {} }]);
    }
    return out;
  }
  const lang = languageOf(entry.category);
  const base = answerOutput(entry);
  add("first", base);
  const maxCands = Math.max(
    0,
    ...(entry.answer ?? []).flatMap((a) => Object.values(a).flatMap((p) => Object.values(p).map((c) => (Array.isArray(c) ? c.length : 0)))),
  );
  if (maxCands > 1) add("second", answerOutput(entry, 1));
  add("omit_optional", answerOutput(entry, 0, true));
  add("empty", []);
  add("not_format", "The answer is 42.");
  if (base[0]) {
    const renamed = clone(base);
    const [name, args] = Object.entries(renamed[0]!)[0]!;
    renamed[0] = { [`${name}_v2`]: args };
    add("wrong_name", renamed);
    const doc = docFor(entry, name);
    const req = doc?.parameters?.required?.find((r) => r in args);
    if (req) {
      const dropped = clone(base);
      delete Object.values(dropped[0]!)[0]![req];
      add("missing_required", dropped);
    }
    const extra = clone(base);
    Object.values(extra[0]!)[0]!["unexpected_extra"] = lang === "python" ? 1 : "1";
    add("extra_param", extra);
  }
  add(
    "wrong_type",
    mapFirstParam(base, (v) => wrongType(v, lang)),
  );
  add("wrong_value", mapFirstParam(base, wrongValue));
  add("case_punct", mapAllValues(base, caseAndPunct));
  add("nested", mapFirstParam(base, nestedChange));
  add(
    "null_first",
    mapFirstParam(base, () => null),
  );
  add(
    "unicode",
    mapAllValues(base, (v) => (typeof v === "string" ? `${v}é` : v)),
  );
  add(
    "lists_reversed",
    mapAllValues(base, (v) => (Array.isArray(v) && v.length > 1 ? [...v].reverse() : v)),
  );
  if (lang === "python") {
    add("int_float_swap", mapAllValues(base, intFloatSwap));
    add("nested_all", mapAllValues(base, nestedChange));
    add(
      "bool_for_number",
      mapAllValues(base, (v) => (typeof v === "number" || v instanceof PyFloat ? Number(v) !== 0 : v)),
    );
    add(
      "dict_extra_key",
      mapAllValues(base, (v) => (isDict(v) ? { ...v, extra_key: "x" } : v)),
    );
    add(
      "numbers_as_strings",
      mapAllValues(base, (v) => (typeof v === "number" ? String(v) : v)),
    );
  } else {
    add("source_tweak", mapAllValues(base, javaSourceTweak));
    add(
      "non_string",
      mapAllValues(base, (v) => (typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v)),
    );
  }
  if (base.length > 1) {
    add("reversed", [...clone(base)].reverse());
    add("duplicate_extra", [...clone(base), clone(base[0]!)]);
    add("duplicate_replace", [...clone(base).slice(0, -1), clone(base[0]!)]);
    add("dropped_last", clone(base).slice(0, -1));
    const rotated = clone(base);
    rotated.push(rotated.shift()!);
    add("rotated", rotated);
  }
  return out;
}
