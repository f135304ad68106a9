/**
 * Config fuzzer: thousands of seeded mutations of valid configs (wrong types, extreme numbers,
 * prototype-ish keys, giant strings, deep nesting, BOMs, truncated text, unknown and missing fields).
 * Every case must end in acceptance of a config within the bounds, or in issues that each name a
 * field path and say what is wrong; never another exception, never a slow case.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { CONFIG_LIMITS, MAX_REPORTED_ISSUES, parseCampaignConfig, type CampaignConfig } from "../../src/config/campaignConfig.js";
import { JsonFileError, parseJsonText } from "../../src/util/jsonFile.js";
import { damageText, fuzzSeed, mutate, prng, Rng } from "./mutate.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const CASES = 5000;
/** Far above what one parse takes (well under a millisecond); a case this slow is a bug. */
const CASE_BUDGET_MS = 1000;

const example = JSON.parse(readFileSync(path.join(REPO_ROOT, "examples", "demo.campaign.json"), "utf8")) as unknown;
const everyStage = {
  name: "all-stages",
  campaignId: "all-stages-1",
  seed: 3,
  iterations: 2,
  endpoints: {
    vllm: { baseUrl: "https://gpu:8000/v1", apiKeyEnv: "VLLM_KEY", maxConcurrency: 64, timeoutMs: 60_000, maxRetries: 3 },
    judge: { baseUrl: "http://judge/v1" },
  },
  roles: {
    generator: { endpoint: "vllm", model: "Qwen/Qwen2.5-7B-Instruct", temperature: 0.7, maxTokens: 2048 },
    judge: { endpoint: "judge", model: "j" },
    policy: { endpoint: "vllm", model: "p" },
  },
  tools: { sources: [{ kind: "example" }, { kind: "mcp", path: "tools/list.json" }, { kind: "openai", path: "openai.json" }] },
  stages: [
    {
      name: "synthesize.singleTurn",
      count: 20_000,
      batchSize: 200,
      mix: { standard: 0.5, parallel: 0.3, irrelevance: 0.2 },
      toolsPerSample: 5,
      maxParallelCalls: 4,
    },
    { name: "verify.rules", batchSize: 500 },
    { name: "export.dataset", batchSize: 5000, include: ["verified", "rejected"] },
    { name: "evaluate.bfcl", categories: ["simple", "multiple"], limitPerCategory: 50, batchSize: 2, threads: 8 },
    { name: "evaluate.bfclFast", categories: ["simple"], limitPerCategory: 20, mode: "bfcl" },
  ],
  concurrency: { batchesInParallel: 8 },
  onStageFailure: "fail",
  output: { dir: "/data/out" },
};
const BASES = [example, everyStage];
const CONFIG_KEYS = [
  "name",
  "seed",
  "iterations",
  "endpoints",
  "roles",
  "tools",
  "stages",
  "count",
  "batchSize",
  "baseUrl",
  "maxRetries",
  "maxTokens",
  "timeoutMs",
];

/** What an accepted config must satisfy, checked independently of the schema. */
function assertWithinBounds(c: CampaignConfig): void {
  assert.ok(JSON.stringify(c).length <= CONFIG_LIMITS.configBytes);
  assert.match(c.name, /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/);
  assert.ok(Number.isSafeInteger(c.seed) && c.seed >= 0);
  assert.ok(Number.isSafeInteger(c.iterations) && c.iterations >= 1 && c.iterations <= CONFIG_LIMITS.iterations);
  const endpoints = Object.entries(c.endpoints);
  assert.ok(endpoints.length >= 1 && endpoints.length <= CONFIG_LIMITS.endpoints);
  for (const [name, ep] of endpoints) {
    assert.ok(name.length >= 1 && name.length <= CONFIG_LIMITS.nameLength && !["__proto__", "constructor", "toString", "prototype"].includes(name), name);
    assert.match(ep.baseUrl, /^https?:\/\//i);
    assert.ok(ep.baseUrl.length <= CONFIG_LIMITS.urlLength);
    assert.ok(ep.maxRetries >= 0 && ep.maxRetries <= CONFIG_LIMITS.maxRetries);
    assert.ok(ep.timeoutMs >= 1 && ep.timeoutMs <= CONFIG_LIMITS.timeoutMs);
    assert.ok(ep.maxConcurrency >= 1 && ep.maxConcurrency <= CONFIG_LIMITS.maxConcurrency);
  }
  for (const role of Object.values(c.roles)) {
    if (!role) continue;
    assert.ok(Object.hasOwn(c.endpoints, role.endpoint), role.endpoint);
    assert.ok(role.model.length >= 1 && role.model.length <= CONFIG_LIMITS.modelLength);
    assert.ok(role.maxTokens >= 1 && role.maxTokens <= CONFIG_LIMITS.maxTokens);
  }
  assert.ok(c.tools.sources.length >= 1 && c.tools.sources.length <= CONFIG_LIMITS.toolSources);
  for (const s of c.tools.sources) if (s.kind !== "example") assert.ok(s.path.length >= 1 && s.path.length <= CONFIG_LIMITS.pathLength);
  assert.ok(c.stages.length >= 1 && c.stages.length <= CONFIG_LIMITS.stages);
  assert.equal(new Set(c.stages.map((s) => s.name)).size, c.stages.length);
  for (const s of c.stages) {
    if (s.name === "synthesize.singleTurn") {
      assert.ok(s.count >= 1 && s.count <= CONFIG_LIMITS.count);
      assert.ok(Math.ceil(s.count / s.batchSize) <= CONFIG_LIMITS.batchesPerStage, `${s.count}/${s.batchSize}`);
    }
    if ((s.name === "evaluate.bfcl" || s.name === "evaluate.bfclFast") && s.limitPerCategory !== undefined)
      assert.ok(s.limitPerCategory <= CONFIG_LIMITS.limitPerCategory);
  }
}

/** One case: the outcome is acceptance within bounds, a JsonFileError, or well-formed issues. */
function runCase(input: unknown): "accepted" | "rejected" | "unreadable" {
  let value = input;
  if (typeof input === "string") {
    try {
      value = parseJsonText(input, "fuzz.json");
    } catch (err) {
      assert.ok(err instanceof JsonFileError, `unexpected ${String(err)}`);
      assert.match(err.message, /^fuzz\.json/);
      return "unreadable";
    }
  }
  const r = parseCampaignConfig(value);
  if (r.ok) {
    assertWithinBounds(r.config);
    return "accepted";
  }
  const issues = r.error.issues;
  assert.ok(issues.length >= 1 && issues.length <= MAX_REPORTED_ISSUES + 1, `${issues.length} issues`);
  for (const i of issues) {
    assert.equal(typeof i.path, "string");
    assert.ok(i.path.length > 0, "empty path");
    assert.equal(typeof i.message, "string");
    assert.ok(i.message.length > 0 && i.message.length < 2000, `message of ${i.message.length} characters at ${i.path}`);
  }
  return "rejected";
}

test(`config fuzz: ${CASES} mutated configs end in acceptance within bounds or path-named issues`, () => {
  const seed = fuzzSeed(20_260_101);
  const outcomes = { accepted: 0, rejected: 0, unreadable: 0 };
  for (let n = 0; n < CASES; n++) {
    const caseSeed = seed + n;
    const r = new Rng(prng(caseSeed));
    const mutated = mutate(structuredClone(r.pick(BASES)), r, CONFIG_KEYS);
    // A quarter go through the file reader as (often damaged) text, like `campaign start --config`.
    let input: unknown = mutated;
    if (r.chance(0.25)) {
      let text: string | undefined;
      try {
        text = JSON.stringify(mutated);
      } catch {
        text = undefined; // NaN-free but too deep for the serialiser: use the value itself
      }
      if (text !== undefined) input = r.chance(0.5) ? damageText(text, r) : text;
    }
    const started = performance.now();
    try {
      outcomes[runCase(input)]++;
    } catch (err) {
      console.error(`config fuzz case failed: FUZZ_SEED=${caseSeed} (case ${n} of run seed ${seed})`);
      throw err;
    }
    const ms = performance.now() - started;
    assert.ok(ms < CASE_BUDGET_MS, `FUZZ_SEED=${caseSeed}: case took ${ms.toFixed(0)} ms`);
  }
  // The generator must exercise both outcomes, or the fuzzer proves nothing.
  assert.ok(outcomes.accepted > CASES / 50, JSON.stringify(outcomes));
  assert.ok(outcomes.rejected > CASES / 2, JSON.stringify(outcomes));
  assert.ok(outcomes.unreadable > 0, JSON.stringify(outcomes));
});

test("the README's and examples/' configs validate", () => {
  const examples = readdirSync(path.join(REPO_ROOT, "examples")).filter((f) => f.endsWith(".json"));
  assert.ok(examples.length > 0);
  for (const f of examples) {
    const json = parseJsonText(readFileSync(path.join(REPO_ROOT, "examples", f), "utf8"), f) as { workflowType?: string; input?: { config?: unknown } };
    // A UI start example (workflow type, task queue, id, input) carries its config in the input.
    const config = json.workflowType !== undefined ? json.input?.config : json;
    const r = parseCampaignConfig(config);
    assert.ok(r.ok, `${f}: ${r.ok ? "" : r.error.message}`);
  }
  // The README's "Starting a campaign from the Temporal UI" input carries a config.
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] as string) as { config?: unknown });
  const configs = blocks.filter((b) => b.config !== undefined);
  assert.ok(configs.length > 0, "the README shows a workflow input with a config");
  for (const b of configs) {
    const r = parseCampaignConfig(b.config);
    assert.ok(r.ok, r.ok ? "" : r.error.message);
  }
});
