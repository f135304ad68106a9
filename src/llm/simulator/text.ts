import { parseJsonExact } from "../../util/exactJson.js";
/**
 * Text helpers shared by the scripted roles: the query writer phrases values as JSON literals after
 * the parameter's words (`city "Paris"`, `days = 3`), and the tool agent scans them back. Keeping the
 * phrasing and the scanning in one module keeps the two sides in step.
 */

const STOPWORDS = new Set(
  "a an the and or of for to in on at by with from into about as is are be this that these those it its your my our their me you i we can could would please given using use via per any all some one each which what when where who how do does get gets".split(
    " ",
  ),
);

/** Words of an identifier: `getWeather_forecast-v2` -> ["get", "weather", "forecast", "v2"]. */
export function identifierWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
}

/** Lower-cased words of free text. */
export function textWords(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length > 0);
}

/** Content words (no stopwords), with a crude singular form so "cities" meets "city". */
export function contentWords(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of textWords(text)) {
    if (STOPWORDS.has(w) || w.length < 2) continue;
    out.add(stem(w));
  }
  return out;
}

function stem(w: string): string {
  if (w.length > 4 && w.endsWith("ies")) return w.slice(0, -3) + "y";
  if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) return w.slice(0, -1);
  return w;
}

/** The first sentence of a description, made safe to embed in a request (no quotes, no inner stops). */
export function firstSentence(description: string): string {
  const cleaned = description
    .replace(/\be\.g\./gi, "for example")
    .replace(/\bi\.e\./gi, "that is")
    .replace(/\betc\./gi, "and so on")
    .replace(/["`]/g, "'")
    .replace(/\s+/g, " ")
    .trim();
  const m = /^(.*?[.?!])(\s|$)/.exec(cleaned);
  const s = (m ? m[1]! : cleaned).replace(/[.?!;]+$/, "").replace(/[.?!;]/g, ",");
  return s.trim();
}

/** Turns "Gets the weather" into "get the weather" so it reads after "Please". */
export function asImperative(sentence: string): string {
  if (sentence.length === 0) return sentence;
  const [first = "", ...rest] = sentence.split(" ");
  let verb = first.toLowerCase();
  if (/^[a-z]+$/.test(verb) && verb.length > 3) {
    if (verb.endsWith("ies")) verb = verb.slice(0, -3) + "y";
    else if (/(ches|shes|sses|xes)$/.test(verb)) verb = verb.slice(0, -2);
    else if (verb.endsWith("s") && !verb.endsWith("ss") && !verb.endsWith("us")) verb = verb.slice(0, -1);
  }
  return [verb, ...rest].join(" ");
}

/** A JSON literal as it is written into a request: strings quoted, the rest as JSON. */
export function literal(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(literal).join(", ")}]`;
  if (value && typeof value === "object")
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${literal(v)}`)
      .join(", ")}}`;
  if (typeof value === "bigint") return value.toString();
  return JSON.stringify(value) ?? "null";
}

/**
 * Reads the JSON literal starting at `text[start]` (after optional spaces): a string, number,
 * true/false/null, or a balanced [..] / {..}. Returns the value and where it ends, or undefined.
 */
export function readLiteral(text: string, start: number): { value: unknown; end: number } | undefined {
  let i = start;
  while (i < text.length && text[i] === " ") i++;
  const c = text[i];
  if (c === undefined) return undefined;
  let end: number;
  if (c === '"') {
    end = endOfString(text, i);
  } else if (c === "[" || c === "{") {
    end = endOfBracket(text, i);
  } else if (/[-0-9]/.test(c)) {
    const m = /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/.exec(text.slice(i));
    if (!m) return undefined;
    end = i + m[0].length;
    // A trailing letter means it was a word such as "3rd", not a number.
    if (/[\p{L}_]/u.test(text[end] ?? "")) return undefined;
  } else {
    const m = /^(true|false|null)\b/.exec(text.slice(i));
    if (!m) return undefined;
    end = i + m[0].length;
  }
  if (end < 0) return undefined;
  try {
    return { value: parseJsonExact(text.slice(i, end)), end };
  } catch {
    return undefined;
  }
}

function endOfString(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i + 1;
  }
  return -1;
}

function endOfBracket(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      i = endOfString(text, i) - 1;
      if (i < 0) return -1;
    } else if (ch === "[" || ch === "{") depth++;
    else if (ch === "]" || ch === "}") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** Splits text into sentences at . ? ! followed by whitespace, never inside quotes or brackets. */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      const e = endOfString(text, i);
      if (e < 0) break;
      i = e - 1;
    } else if (ch === "[" || ch === "{") depth++;
    else if ((ch === "]" || ch === "}") && depth > 0) depth--;
    else if (depth === 0 && (ch === "." || ch === "?" || ch === "!") && /\s/.test(text[i + 1] ?? " ")) {
      out.push(text.slice(from, i + 1).trim());
      from = i + 1;
    }
  }
  const tail = text.slice(from).trim();
  if (tail) out.push(tail);
  return out.filter((s) => s.length > 0);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Connectors the query writer puts between a parameter's words and its value. */
export const VALUE_CONNECTORS = ["", " =", ":", " set to", " of"] as const;

/**
 * Finds the value written for a parameter: its words, an optional connector, then a JSON literal.
 * Takes the last such mention that does not overlap `taken` spans (parameters come after the
 * description in a clause, and longer names claim their span first).
 */
export function findParamValue(text: string, paramName: string, taken: [number, number][]): { value: unknown; span: [number, number] } | undefined {
  const words = identifierWords(paramName);
  if (words.length === 0) return undefined;
  // Not preceded by "set"/"equal": a parameter named `to` must not read the connector "set to".
  const re = new RegExp(
    `(?<![\\p{L}\\p{N}])(?<!\\b(?:set|equal)\\s+)${words.map(escapeRegex).join("[\\s_-]+")}(?![\\p{L}\\p{N}])\\s*(?:=|:|set to|of|equal to|is)?`,
    "giu",
  );
  let found: { value: unknown; span: [number, number] } | undefined;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const lit = readLiteral(text, m.index + m[0].length);
    if (!lit) continue;
    const span: [number, number] = [m.index, lit.end];
    if (taken.some(([a, b]) => span[0] < b && a < span[1])) continue;
    found = { value: lit.value, span };
  }
  return found;
}

/** "a", "a and b", "a, b and c". */
export function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}
