/**
 * Tool-file fuzzer: seeded mutations of valid MCP and OpenAI tool files (wrong types, deep schemas,
 * prototype-ish keys, giant strings, BOMs, truncated text). The loader must never throw: every case
 * loads tools that are sound (usable by rules verification and the simulator) and reports every
 * rejected entry with a message naming it; each case stays fast.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { objectForSchema } from "../../src/llm/simulator/schemaValues.js";
import { EXAMPLE_TOOLS } from "../../src/tools/examples.js";
import { toolHash } from "../../src/tools/hash.js";
import { normalizeTools, TOOL_NAME_PATTERN } from "../../src/tools/library.js";
import { pathDeeperThan } from "../../src/util/jsonDepth.js";
import { JsonFileError, parseJsonText } from "../../src/util/jsonFile.js";
import { SeededRandom } from "../../src/util/random.js";
import { verifyRules } from "../../src/verification/rules.js";
import { MAX_TOOL_JSON_DEPTH } from "../../src/jsonSchema/keywords.js";
import { damageText, deepObject, fuzzSeed, mutate, prng, Rng } from "./mutate.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const FIXTURES = path.join(REPO_ROOT, "test", "fixtures", "tools");
const CASES = 2500;
const CASE_BUDGET_MS = 2000;

const fixture = (f: string) => JSON.parse(readFileSync(path.join(FIXTURES, f), "utf8")) as unknown;
const exampleMcp = EXAMPLE_TOOLS.slice(0, 4).map((t) => t.tool);
// Fresh documents per case (mutations work in place); the deep one is built anew because cloning it would recurse.
const BASES: (() => unknown)[] = [
  () => fixture("mcp-tools-list.json"),
  () => fixture("openai-tools.json"),
  () => ({ tools: structuredClone(exampleMcp) }),
  () => exampleMcp.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: structuredClone(t.inputSchema) } })),
  () => [
    structuredClone(exampleMcp[0]),
    { name: "deep_tool", description: "Deep.", inputSchema: { type: "object", properties: { a: deepObject(3000, "properties") } } },
  ],
];
const TOOL_KEYS = ["name", "description", "inputSchema", "parameters", "properties", "required", "type", "items", "enum", "anyOf", "$ref", "function", "tools"];

function runCase(input: unknown, r: Rng): { loaded: number; rejected: number } {
  let json = input;
  if (typeof input === "string") {
    try {
      json = parseJsonText(input, "tools.json");
    } catch (err) {
      assert.ok(err instanceof JsonFileError, `unexpected ${String(err)}`);
      return { loaded: 0, rejected: 1 };
    }
  }
  const { tools, errors } = normalizeTools(json, "fuzz.json");
  for (const e of errors) {
    assert.equal(e.source, "fuzz.json");
    assert.ok(typeof e.message === "string" && e.message.length > 0);
    if (e.index >= 0) assert.ok(e.message.startsWith(`tools[${e.index}]`), e.message.slice(0, 200));
    assert.ok(e.message.length < 100_000, `message of ${e.message.length} characters`);
  }
  for (const { tool } of tools) {
    assert.match(tool.name, TOOL_NAME_PATTERN);
    assert.ok(typeof tool.description === "string" && tool.description.trim() !== "");
    assert.equal(tool.inputSchema.type, "object");
    assert.equal(pathDeeperThan(tool, MAX_TOOL_JSON_DEPTH + 2), undefined, `${tool.name} is too deep`);
    assert.match(toolHash(tool), /^[0-9a-f]{64}$/);
    // A loaded tool is usable downstream: the simulator can fill it and rules can judge a call to it.
    const args = objectForSchema(new SeededRandom(r.int(1000)), tool.inputSchema as Record<string, unknown>, tool.inputSchema as Record<string, unknown>, {
      optionalRate: 0.5,
    });
    const verdict = verifyRules({
      kind: "standard",
      messages: [
        { role: "user", content: "Do it." },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: tool.name, arguments: JSON.stringify(args) } }] },
      ],
      tools: [tool],
    });
    for (const reason of verdict.reasons) assert.ok(reason.length > 0);
  }
  return { loaded: tools.length, rejected: errors.length };
}

test(`tool fuzz: ${CASES} mutated tool files load sound tools and name every rejected entry`, () => {
  const seed = fuzzSeed(20_260_202);
  let loaded = 0;
  let rejected = 0;
  for (let n = 0; n < CASES; n++) {
    const caseSeed = seed + n;
    const r = new Rng(prng(caseSeed));
    const mutated = mutate(r.pick(BASES)(), r, TOOL_KEYS);
    let input: unknown = mutated;
    if (r.chance(0.2)) {
      let text: string | undefined;
      try {
        text = JSON.stringify(mutated);
      } catch {
        text = undefined;
      }
      if (text !== undefined) input = r.chance(0.5) ? damageText(text, r) : text;
    }
    const started = performance.now();
    try {
      const out = runCase(input, r);
      loaded += out.loaded;
      rejected += out.rejected;
    } catch (err) {
      console.error(`tool fuzz case failed: FUZZ_SEED=${caseSeed} (case ${n} of run seed ${seed})`);
      throw err;
    }
    const ms = performance.now() - started;
    assert.ok(ms < CASE_BUDGET_MS, `FUZZ_SEED=${caseSeed}: case took ${ms.toFixed(0)} ms`);
  }
  assert.ok(loaded > CASES, `loaded ${loaded}`);
  assert.ok(rejected > CASES / 4, `rejected ${rejected}`);
});
