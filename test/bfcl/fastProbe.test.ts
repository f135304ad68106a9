import { test } from "node:test";
import assert from "node:assert/strict";
import { readBfclCategorySync, type BfclEntry } from "../../src/bfcl/data.js";
import { answerOutput } from "../../src/bfcl/mutate.js";
import { runFastProbe, type ProbeChatClient } from "../../src/bfcl/fastProbe.js";
import { sanitizeToolName, toOpenAiTools } from "../../src/bfcl/toolSchema.js";
import { stringifyPyJson } from "../../src/matching/pyJson.js";

const CATEGORIES = ["simple", "java", "multiple", "parallel", "parallel_multiple", "irrelevance", "live_relevance"];
const LIMIT = 20;

/** A scripted model: answers each known question with the entry's first acceptable answer as tool calls. */
function scriptedClient(seen: { tools: number }): ProbeChatClient {
  const byQuestion = new Map<string, BfclEntry>();
  for (const c of CATEGORIES) for (const e of readBfclCategorySync(c).slice(0, LIMIT)) byQuestion.set(JSON.stringify((e.question as unknown[][]).flat()), e);
  return {
    chat(req) {
      const entry = byQuestion.get(JSON.stringify(req.messages));
      assert.ok(entry, "probe sent an unknown question");
      seen.tools += req.tools?.length ?? 0;
      // Every function of the entry is offered ("multiple": several, of which the answer names one).
      assert.deepEqual(
        (req.tools ?? []).map((t) => t.function.name),
        entry.function.map((f) => sanitizeToolName(f.name)),
      );
      for (const t of req.tools ?? []) assert.match(t.function.name, /^[a-zA-Z0-9_-]{1,64}$/);
      if (entry.category === "irrelevance") return Promise.resolve({ message: { content: "I can't do that." } });
      const calls = entry.category === "live_relevance" ? [{ [entry.function[0]!.name]: {} }] : answerOutput(entry);
      const tool_calls = calls.map((c) => {
        const [name, args] = Object.entries(c)[0]!;
        return { function: { name: sanitizeToolName(name), arguments: stringifyPyJson(args) } };
      });
      return Promise.resolve({ message: { content: null, tool_calls } });
    },
  };
}

test("fast probe scores FC tool calls with the matcher and labels the evaluator", async () => {
  const seen = { tools: 0 };
  let progress = 0;
  const r = await runFastProbe({
    client: scriptedClient(seen),
    categories: CATEGORIES,
    limitPerCategory: LIMIT,
    concurrency: 4,
    onProgress: (d) => (progress = d),
  });
  assert.equal(r.evaluator, "toolloop-matcher");
  assert.equal(r.mode, "bfcl");
  const expectedTotal = (c: string) => Math.min(LIMIT, readBfclCategorySync(c).length); // live_relevance has 18
  const all = CATEGORIES.reduce((n, c) => n + expectedTotal(c), 0);
  assert.equal(progress, all);
  assert.ok(seen.tools >= all);
  for (const c of CATEGORIES) {
    assert.equal(r.categories[c]!.total, expectedTotal(c), c);
    assert.equal(r.categories[c]!.correct, expectedTotal(c), `${c}: ${JSON.stringify(r.categories[c])}`);
    assert.equal(r.categories[c]!.accuracy, 1);
  }
});

test("tool schema follows BFCL's FC conversion (names, types, java strings)", () => {
  const simple1 = readBfclCategorySync("simple")[1]!; // math.factorial
  const [tool] = toOpenAiTools(simple1.function, "simple");
  assert.equal(tool!.function.name, "math_factorial");
  assert.equal((tool!.function.parameters as { type: string }).type, "object");
  const java = readBfclCategorySync("java")[0]!;
  const props = (toOpenAiTools(java.function, "java")[0]!.function.parameters as { properties: Record<string, { type: string }> }).properties;
  assert.ok(
    Object.values(props).every((p) => p.type === "string"),
    "java params are passed as source-text strings",
  );
  assert.equal(java.function[0]!.parameters.properties[Object.keys(props)[0]!]!.type !== undefined, true, "the original doc is not mutated");
});
