/**
 * PostgreSQL stores no NUL (U+0000) in text or jsonb ("unsupported Unicode escape sequence"), and its
 * jsonb takes no lone UTF-16 surrogate either ("invalid input syntax for type json": a `\ud83d` not
 * followed by its low half), so such a character a model generated (vLLM sends a NUL escaped, `\u0000`;
 * a model writing JSON escapes may leave half an emoji's pair, `\ud83d`, and JSON.parse makes either a
 * real one) failed the write of whatever stored the answer (a dialogue turn, a tool call record, a
 * sample, a vote) and the batch with it, on every retry of a seeded request. Model output becomes
 * U+FFFD instead, where it enters: the LLM client's answers, and JSON parsed from them (object keys
 * included).
 */

/** A high surrogate without its low half, or a low one without its high half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const ANY_SURROGATE = /[\uD800-\uDFFF]/;

/** The string with every NUL and every lone surrogate replaced by U+FFFD (well-formed, storable text). */
export function withoutNul(s: string): string {
  const nulFree = s.includes("\u0000") ? s.replaceAll("\u0000", "\uFFFD") : s;
  return ANY_SURROGATE.test(nulFree) ? nulFree.replace(LONE_SURROGATE, "\uFFFD") : nulFree;
}

/** A JSON.parse reviver applying withoutNul to every string value and every object key. */
export function nulFreeStrings(_key: string, value: unknown): unknown {
  if (typeof value === "string") return withoutNul(value);
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    // Rebuilt only when a key needs it; fromEntries defines own properties ("__proto__" stays a key).
    if (keys.some((k) => withoutNul(k) !== k)) return Object.fromEntries(keys.map((k) => [withoutNul(k), (value as Record<string, unknown>)[k]]));
  }
  return value;
}

/**
 * A JSON text parses to a NUL or a lone surrogate only through an escape (`\u0000`, `\uD800`-`\uDFFF`)
 * or such a character written as it is; a valid pair written raw matches too (the reviver leaves it).
 */
// eslint-disable-next-line no-control-regex -- a NUL written raw is one of the characters it looks for
const MAY_PARSE_TO_UNSTORABLE = /\\u(?:0000|[dD][89a-fA-F])|[\u0000\uD800-\uDFFF]/;

/**
 * nulFreeStrings where the text may need it, else undefined (JSON.parse without a reviver): the
 * reviver calls back for every value of every reply, 3-4x the parse's own cost on a structured
 * reply, and almost no reply has anything for it to replace (issue 13: the worker's CPU per request).
 */
export function nulFreeReviverFor(text: string): ((key: string, value: unknown) => unknown) | undefined {
  return MAY_PARSE_TO_UNSTORABLE.test(text) ? nulFreeStrings : undefined;
}
