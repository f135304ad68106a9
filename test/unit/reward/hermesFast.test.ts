import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeHermes } from "../../../src/matching/decoders.js";
import { MatchCall } from "../../../src/matching/matchCall.js";
import { decodeHermesCalls } from "../../../src/reward/hermesFast.js";

const texts = [
  '<tool_call>\n{"name": "f", "arguments": {"a": 1, "b": "x", "c": [1, 2], "d": {"e": null}}}\n</tool_call>',
  '<tool_call>{"name": "f", "arguments": {"a": 2.0, "b": 1e3, "c": 2.5}}</tool_call>',
  '<tool_call>{"name": "f", "arguments": {"big": 12345678901234567890, "long": 1.0000000000000000001}}</tool_call>',
  '<tool_call>{"name": "f", "arguments": {"a": NaN}}</tool_call>',
  'think first <tool_call>{"name": "f", "parameters": {"a": true}}</tool_call> then <tool_call>{"name": "g", "arguments": "{\\"x\\": 1.0}"}</tool_call>',
  '<tool_call>{"name": "f", "arguments": {"a": 1}}',
  '<tool_call>{"name": "f", "arguments": {"a": 1}</tool_call>',
  '<tool_call>{"name": "", "arguments": {}}</tool_call>',
  '<tool_call>{"name": "f", "arguments": [1]}</tool_call>',
  "<tool_call></tool_call>",
  '<tool_call>{"name": "f", "arguments": {"__proto__": {"x": 1}}}</tool_call>',
  '<tool_call>\u00a0{"name": "f"}</tool_call>',
];

test("decodeHermesCalls reads every response exactly as decodeHermes does", () => {
  for (const text of texts) {
    const fast = decodeHermesCalls(text);
    const ref = decodeHermes(text);
    assert.equal(fast.ok, ref.ok, text);
    if (!fast.ok || !ref.ok) {
      assert.equal(fast.ok ? "" : fast.reason, ref.ok ? "" : ref.error.reason, text);
      continue;
    }
    assert.deepEqual(
      fast.calls,
      ref.calls.map((c) => MatchCall.fromArgs(c.name, c.args)),
      text,
    );
  }
});
