/**
 * PostgreSQL stores no NUL (U+0000) in text or jsonb ("unsupported Unicode escape sequence"), so a NUL
 * a model generated (vLLM sends it escaped, `\u0000`, and JSON.parse makes it a real one) failed the
 * write of whatever stored the answer (a dialogue turn, a tool call record, a sample, a vote) and the
 * batch with it, on every retry of a seeded request. Model output becomes U+FFFD instead, where it
 * enters: the LLM client's answers, and JSON parsed from them.
 */

export function withoutNul(s: string): string {
  return s.includes("\u0000") ? s.replaceAll("\u0000", "\uFFFD") : s;
}

/** A JSON.parse reviver applying withoutNul to every string value. */
export function nulFreeStrings(_key: string, value: unknown): unknown {
  return typeof value === "string" ? withoutNul(value) : value;
}
