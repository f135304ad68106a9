/**
 * unknownConfigFields: the fields of a (frozen) config this build's schemas do not define, which a
 * worker refuses to run a step without (activities/stageOnWorker.ts unknownFieldsFailure). Configs
 * older builds froze must have none: a field removed from a schema without being listed in its
 * spec's retiredFields would stop every running campaign that set it.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseCampaignConfig, rejectedConfigValues, unknownConfigFields, type CampaignConfigInput } from "../../../src/config/campaignConfig.js";
import { freezeCampaignConfig } from "../../../src/config/frozen.js";
import { STAGE_SPECS } from "../../../src/stages/specs.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

const valid = (): CampaignConfigInput => ({
  name: "unit",
  endpoints: { sim: { baseUrl: "http://127.0.0.1:8000/v1" } },
  roles: { generator: { endpoint: "sim", model: "sim-model" } },
  tools: { sources: [{ kind: "example" }] },
  stages: [{ name: "synthesize.singleTurn", count: 10 }, { name: "verify.rules" }, { name: "export.dataset" }],
});

test("every field no schema defines is listed with its path, in the stages and around them; reserved keys are not fields", () => {
  const cfg = {
    ...valid(),
    stages: [
      { name: "synthesize.singleTurn", count: 10, cpusPerTask: 4, mix: { standard: 1, hard: 1 } },
      { name: "verify.rules" },
      { name: "test.notHere", x: 1 },
    ],
    endpoints: { sim: { baseUrl: "http://127.0.0.1:8000/v1", attemptBudgetV2: 3 } },
    cluster: { launcher: { kind: "local", gpus: 1 } },
  };
  assert.deepEqual(
    unknownConfigFields(cfg).map((f) => f.text),
    ["endpoints.sim.attemptBudgetV2", "stages[0].mix.hard", "stages[0].cpusPerTask", "cluster.launcher.gpus"],
  );
  assert.deepEqual(unknownConfigFields(cfg)[2]!.path, ["stages", 0, "cpusPerTask"]);
  // A bad value beside it changes nothing; a config without unknown fields has none (even when invalid otherwise).
  assert.deepEqual(
    unknownConfigFields({ ...valid(), stages: [{ name: "verify.rules", batchSize: -1, z: 1 }] }).map((f) => f.text),
    ["stages[0].z"],
  );
  assert.deepEqual(unknownConfigFields({ ...valid(), iterations: 0 }), []);
  assert.deepEqual(unknownConfigFields(JSON.parse('{"name":"unit","__proto__":{"a":1}}')), []);
  // A former stage name is the stage: its fields are checked against today's spec.
  assert.deepEqual(
    unknownConfigFields({ ...valid(), stages: [{ name: "evaluate.probe", nope: 1 }] }).map((f) => f.text),
    ["stages[0].nope"],
  );
});

test("a stage's retiredFields are not unknown (configs frozen before the field's removal run), yet a new config is refused with them", () => {
  const specs = STAGE_SPECS.map((s) => (s.name === "verify.rules" ? { ...s, retiredFields: ["oldKnob", "limits.perBatch"] } : s));
  const cfg = { ...valid(), stages: [{ name: "verify.rules", oldKnob: 1, limits: 2 }] };
  assert.deepEqual(
    unknownConfigFields(cfg, specs).map((f) => f.text),
    ["stages[0].limits"],
  );
  // Around the stages: RETIRED_ENVELOPE_FIELDS, `*` for an endpoint's (a role's) name.
  const around = { ...valid(), endpoints: { a: { baseUrl: "http://127.0.0.1:8000/v1", oldKnob: 1 }, b: { baseUrl: "http://127.0.0.1:8001/v1", oldKnob: 2 } } };
  assert.deepEqual(unknownConfigFields(around, STAGE_SPECS, ["endpoints.*.oldKnob"]), []);
  assert.deepEqual(
    unknownConfigFields(around, STAGE_SPECS, ["endpoints.a.oldKnob"]).map((f) => f.text),
    ["endpoints.b.oldKnob"],
  );
  const parsed = parseCampaignConfig({ ...valid(), stages: [{ name: "verify.rules", oldKnob: 1 }] }, specs);
  assert.ok(!parsed.ok && parsed.error.message.includes('stages[0]: unknown field "oldKnob"'), parsed.ok ? "accepted" : parsed.error.message);
});

test("the example configs, frozen, have no field their own build does not define (the frozen form re-reads as it was written)", () => {
  for (const file of ["demo.campaign.json", "multi-turn.json", "compose-simulator.campaign.json"]) {
    const raw: unknown = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "examples", file), "utf8"));
    const r = freezeCampaignConfig(raw, { configDir: path.join(REPO_ROOT, "examples") });
    assert.ok(r.ok, file);
    assert.deepEqual(unknownConfigFields(r.frozen.config), [], file);
    assert.deepEqual(rejectedConfigValues(r.frozen.config), [], file);
  }
});

/** Every campaign config in the recorded workflow histories (payloads are base64 JSON): configs of earlier builds. */
function configsInHistories(): { file: string; config: unknown }[] {
  const dir = path.join(REPO_ROOT, "test", "replay", "histories");
  const out: { file: string; config: unknown }[] = [];
  const findConfigs = (file: string, v: unknown) => {
    if (Array.isArray(v)) return v.forEach((x) => findConfigs(file, x));
    if (typeof v !== "object" || v === null) return;
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.stages) && typeof o.roles === "object") out.push({ file, config: o });
    Object.values(o).forEach((x) => findConfigs(file, x));
  };
  const walk = (file: string, v: unknown) => {
    if (Array.isArray(v)) return v.forEach((x) => walk(file, x));
    if (typeof v !== "object" || v === null) return;
    const o = v as Record<string, unknown>;
    if (typeof o.data === "string" && typeof o.metadata === "object") {
      try {
        findConfigs(file, JSON.parse(Buffer.from(o.data, "base64").toString("utf8")));
      } catch {
        // Not a JSON payload.
      }
    }
    Object.values(o).forEach((x) => walk(file, x));
  };
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "index.json"))
    walk(file, JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")));
  return out;
}

test("configs earlier builds wrote (the recorded histories' configs, frozen ones included) have no field today's build does not define", () => {
  const configs = configsInHistories();
  assert.ok(configs.length >= 20, `found ${configs.length} configs in the histories`);
  for (const { file, config } of configs) {
    assert.deepEqual(unknownConfigFields(config), [], file);
    // A value today's build refused would leave every step of such a campaign to a worker that never comes.
    assert.deepEqual(rejectedConfigValues(config), [], file);
  }
});

test("rejectedConfigValues: each value this build's schemas refuse, with its path, the value and what this build expects; unknown fields are not values", () => {
  const cfg = {
    ...valid(),
    endpoints: { sim: { baseUrl: "http://127.0.0.1:8000/v1", timeoutMs: 0 } },
    roles: { generator: { endpoint: "sim", model: "sim-model" }, policy: { endpoint: "sim", model: "sim-policy" } },
    stages: [
      { name: "synthesize.singleTurn", count: 10 },
      { name: "verify.rules", batchSize: 3000, cpusPerTask: 4 },
      { name: "export.dataset", format: "parquet", include: ["verified", "archived"] },
      { name: "evaluate.bfclFast", mode: "lenient" },
    ],
  };
  assert.deepEqual(
    rejectedConfigValues(cfg).map((v) => [v.text, v.value, v.expected]),
    [
      ["endpoints.sim.timeoutMs", "0", "expected a positive integer"],
      ["stages[1].batchSize", "3000", "expected at most 2000"],
      ["stages[2].include[1]", '"archived"', 'expected "verified", "pending" or "rejected"'],
      ["stages[2].format", '"parquet"', 'expected "toolloop" or "openai-strict"'],
      ["stages[3].mode", '"lenient"', 'expected "bfcl" or "strict"'],
    ],
  );
  assert.deepEqual(rejectedConfigValues(cfg)[1]!.path, ["stages", 1, "batchSize"]);
  assert.deepEqual(
    unknownConfigFields(cfg).map((f) => f.text),
    ["stages[1].cpusPerTask"],
  );
  assert.deepEqual(rejectedConfigValues(valid()), []);
});
