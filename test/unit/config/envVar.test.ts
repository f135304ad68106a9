/** One environment rule: what a train stage's `env` may hold is what the launchers accept (assertJobRequest). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCampaignConfig } from "../../../src/config/campaignConfig.js";
import { assertJobRequest } from "../../../src/training/launchers/jobRequest.js";

const config = (env: Record<string, unknown>) => ({
  name: "unit",
  endpoints: { sim: { baseUrl: "http://127.0.0.1:8000/v1" } },
  roles: { generator: { endpoint: "sim", model: "m" } },
  tools: { sources: [{ kind: "example" }] },
  stages: [{ name: "synthesize.singleTurn", count: 10 }, { name: "verify.rules" }, { name: "export.verl" }, { name: "train.sft", baseModel: "m", env }],
});
const launch = (env: Record<string, string>) => () =>
  assertJobRequest({ name: "j-1", command: ["python3"], env, workDir: "/tmp", resources: { nodes: 1, gpusPerNode: 0 } });

const NAME_RULE = "is not a valid environment variable name (a letter or '_', then letters, digits or '_'; at most 128)";

test("a train stage's env is refused at validation with the launcher's reasons, each at its key", () => {
  const r = parseCampaignConfig(config({ "A=B": "x", C: "a\u0000b", OK_1: "fine" }));
  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? [] : r.error.issues.map((i) => `${i.path}: ${i.message}`), [
    "stages[3].env.C: must be a string without NUL characters",
    `stages[3].env["A=B"]: "A=B" ${NAME_RULE}`,
  ]);
  assert.throws(launch({ "A=B": "x" }), { message: `job j-1: env name "A=B" ${NAME_RULE}` });
  assert.throws(launch({ C: "a\u0000b" }), { message: "job j-1: env C must be a string without NUL characters" });
});

test("the schema and the launcher agree on every name: valid ones pass both, invalid ones fail both", () => {
  for (const name of ["A", "_x", "PATH_2", "a".repeat(128), "", "1A", "A-B", "A B", "É", "a".repeat(129), "A=B"]) {
    const validated = parseCampaignConfig(config({ [name]: "v" })).ok;
    let launched = true;
    try {
      launch({ [name]: "v" })();
    } catch {
      launched = false;
    }
    assert.equal(validated, launched, JSON.stringify(name));
  }
  assert.ok(parseCampaignConfig(config({ PYTHONPATH: "/opt/x", HF_HOME: "/data/hf" })).ok);
});
