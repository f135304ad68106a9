/** Decontamination against the BFCL data: signatures in one form, planted copies of BFCL queries and functions caught. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { readBfclCategorySync } from "../../../src/bfcl/data.js";
import type { ChatMessage, McpTool } from "../../../src/domain/types.js";
import { buildContaminationIndex, loadContaminationIndex } from "../../../src/selection/contamination.js";
import { bfclSignature, bfclUserQuery, toolSignature, userQueryOf } from "../../../src/selection/signature.js";

const tool = (name: string, properties: Record<string, unknown>): McpTool => ({ name, description: "d", inputSchema: { type: "object", properties } });
const sample = (query: string, tools: McpTool[] = [tool("lookup_order", { order_id: { type: "string" } })]) => ({
  messages: [
    { role: "system", content: "You are helpful." },
    { role: "user", content: query },
    { role: "assistant", content: "ok" },
  ] satisfies ChatMessage[],
  tools,
});

test("signatures: BFCL types and names in OpenAPI form, parameter order ignored, types and names compared", () => {
  const doc = {
    name: "math.hypot",
    parameters: { type: "dict", properties: { y: { type: "integer" }, x: { type: "float" }, opts: { type: "dict" }, tags: { type: "tuple" } } },
  };
  const mine = tool("math_hypot", { x: { type: "number" }, y: { type: "integer" }, tags: { type: "array" }, opts: { type: "object" } });
  assert.equal(bfclSignature(doc), "math_hypot(opts:object,tags:array,x:number,y:integer)");
  assert.equal(toolSignature(mine), bfclSignature(doc));
  assert.notEqual(
    toolSignature(tool("math_hypot", { x: { type: "integer" }, y: { type: "integer" }, tags: { type: "array" }, opts: { type: "object" } })),
    bfclSignature(doc),
  );
  assert.notEqual(toolSignature(tool("math_hypot", { x: { type: "number" }, y: { type: "integer" } })), bfclSignature(doc), "a missing parameter differs");
  assert.equal(
    bfclUserQuery([
      [
        { role: "system", content: "s" },
        { role: "user", content: "a" },
      ],
      [{ role: "user", content: "b" }],
    ]),
    "a\nb",
  );
  assert.equal(userQueryOf(sample("q").messages), "q");
});

const entries = ["simple", "live_simple", "irrelevance"].flatMap((c) => readBfclCategorySync(c));
const index = buildContaminationIndex(entries, { threshold: 0.8 });

test("a planted copy of a BFCL query is caught exactly (up to normalisation) and nearly; a fresh query passes", () => {
  const entry = entries.find((e) => e.id === "simple_0")!;
  const query = bfclUserQuery(entry.question);
  const exact = index.check(sample(`  ${query.toUpperCase()} `));
  assert.deepEqual(exact, { reason: "contaminated_query", bfclId: "simple_0", similarity: 1 });

  const live = entries.find((e) => e.category === "live_simple")!;
  const liveQuery = bfclUserQuery(live.question);
  const words = liveQuery.split(" ");
  const edited = [...words.slice(0, -1), "please"].join(" ");
  const near = index.check(sample(edited));
  assert.equal(near?.reason, "contaminated_query", `an edited copy of ${live.id} (${words.length} words): ${JSON.stringify(near)}`);
  assert.equal(near?.bfclId, live.id);
  assert.ok(near.similarity >= 0.8 && near.similarity < 1);

  assert.equal(index.check(sample("Schedule a dentist appointment for Tuesday at 10 in Lisbon for Marta Oliveira")), undefined);
  assert.deepEqual(index.entries, { simple: 400, live_simple: 258, irrelevance: 240 });
});

test("a tool with a BFCL function's signature is caught, under the sanitised name; a changed type passes", () => {
  const fn = entries.find((e) => e.id === "simple_1")!.function[0]!; // math.factorial(number: integer)
  const planted = tool("math_factorial", { number: { type: "integer", description: "n" } });
  const hit = index.check(sample("Compute something unrelated for my homework today", [tool("lookup_order", { order_id: { type: "string" } }), planted]));
  assert.deepEqual(hit, { reason: "contaminated_signature", bfclId: "simple_1", tool: "math_factorial", signature: bfclSignature(fn) });
  assert.equal(index.check(sample("Compute something unrelated for my homework today", [tool("math_factorial", { number: { type: "string" } })])), undefined);
});

test("loadContaminationIndex reads once per categories and settings", async () => {
  const a = loadContaminationIndex(["simple", "multiple"], { threshold: 0.8 });
  const b = loadContaminationIndex(["multiple", "simple"], { threshold: 0.8 });
  assert.equal(a, b, "the same categories in another order share the cached index");
  assert.notEqual(loadContaminationIndex(["simple"], { threshold: 0.8 }), a);
  assert.equal((await a).entries.simple, 400);
  await assert.rejects(loadContaminationIndex(["simpel"], { threshold: 0.8 }), /unknown BFCL category "simpel"/);
});
