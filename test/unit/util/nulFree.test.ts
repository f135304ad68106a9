/**
 * What PostgreSQL cannot store never leaves the LLM client or a parse of its JSON: a NUL and a lone
 * UTF-16 surrogate become U+FFFD, in string values and in object keys; a surrogate pair (an emoji)
 * stays as it is.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { nulFreeReviverFor, nulFreeStrings, withoutNul } from "../../../src/util/nulFree.js";

/** No NUL, no lone surrogate (String.prototype.isWellFormed is ES2024; the project's lib is ES2022). */
const storable = (s: string) => !s.includes("\u0000") && (s as unknown as { isWellFormed(): boolean }).isWellFormed();

test("withoutNul: NULs and lone surrogates become U+FFFD; pairs stay", () => {
  assert.equal(withoutNul("plain"), "plain");
  assert.equal(withoutNul("a\u0000b"), "a\uFFFDb");
  assert.equal(withoutNul("smile \ud83d\ude00"), "smile \ud83d\ude00");
  assert.equal(withoutNul("half \ud83d"), "half \uFFFD");
  assert.equal(withoutNul("\ude00 low first"), "\uFFFD low first");
  assert.equal(withoutNul("\ud83d\ud83d\ude00"), "\uFFFD\ud83d\ude00", "a high half before a whole pair");
  assert.ok(storable(withoutNul("x\ud800y\udfffz\u0000")));
});

test("nulFreeStrings: values and keys, nested; __proto__ stays an own key", () => {
  const parsed = JSON.parse('{"a\\u0000": {"b\\ud83d": ["\\ud800", "\\ud83d\\ude00"]}, "__proto__": {"polluted": true}}', nulFreeStrings) as Record<
    string,
    unknown
  >;
  assert.deepEqual(Object.keys(parsed), ["a\uFFFD", "__proto__"]);
  assert.deepEqual(parsed["a\uFFFD"], { "b\uFFFD": ["\uFFFD", "\ud83d\ude00"] });
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.ok(storable(JSON.stringify(parsed)));
});

test("nulFreeReviverFor: the reviver wherever it could change the parse, none where it could not", () => {
  const texts = [
    '{"a": "plain", "b": [1, 2, {"c": "d"}]}',
    '{"a\\u0000": 1}',
    '{"a": "x\\u0000"}',
    '{"a": "\\uD83D"}',
    '{"a": "\\udfff"}',
    '{"a": "\\ud83d\\ude00"}',
    '{"a": "\\u00e9 \\u4e2d \\uE000"}',
    '{"a": "\\\\u0000 is an escaped backslash"}',
    `{"a": "raw half \ud83d"}`,
    `{"a": "raw pair \ud83d\ude00"}`,
  ];
  for (const text of texts) {
    assert.deepEqual(JSON.parse(text, nulFreeReviverFor(text)), JSON.parse(text, nulFreeStrings), text);
  }
  assert.equal(nulFreeReviverFor(texts[0]!), undefined, "nothing to replace: no reviver");
  assert.equal(nulFreeReviverFor('{"a": "\\u00e9 \\u4e2d \\uE000"}'), undefined, "escapes of other characters need none");
  for (const text of ['{"a": "\\u0000"}', '{"a": "\\uD83D"}', '{"a": "\\udc00"}', `{"a": "\u0000"}`, `{"a": "\ud83d"}`]) {
    assert.equal(nulFreeReviverFor(text), nulFreeStrings, text);
  }
});
