/**
 * What PostgreSQL cannot store never leaves the LLM client or a parse of its JSON: a NUL and a lone
 * UTF-16 surrogate become U+FFFD, in string values and in object keys; a surrogate pair (an emoji)
 * stays as it is.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { nulFreeStrings, withoutNul } from "../../../src/util/nulFree.js";

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
