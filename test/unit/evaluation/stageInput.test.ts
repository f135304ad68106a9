import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCampaignConfig, type CampaignConfig } from "../../../src/config/campaignConfig.js";
import { buildStageContext } from "../../../src/framework/stageContext.js";
import type { StageConfigOf } from "../../../src/stages/specs.js";
import type { Db } from "../../../src/db/client.js";
import { evaluateBfclHandler } from "../../../src/stages/evaluate/bfcl/handler.js";
import { StageInputError, type StageContext } from "../../../src/framework/stage.js";

type EvalStage = StageConfigOf<"evaluate.bfcl">;

function ctx(config: CampaignConfig): StageContext<EvalStage> {
  const unused = () => {
    throw new Error("unused");
  };
  return buildStageContext({
    campaignId: "c",
    iteration: 1,
    config,
    stage: config.stages[0] as EvalStage,
    signal: new AbortController().signal,
    deps: { db: {} as Db, baseDir: "/nonexistent", log: () => undefined, createLlm: unused },
  }).ctx;
}

function config(extra: Record<string, unknown>): CampaignConfig {
  const r = parseCampaignConfig({
    name: "u",
    endpoints: { sim: { baseUrl: "http://127.0.0.1:9/v1", apiKeyEnv: "TOOLLOOP_TEST_UNSET_KEY" } },
    roles: { generator: { endpoint: "sim", model: "m" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "evaluate.bfcl", categories: ["simple"] }],
    ...extra,
  });
  if (!r.ok) throw r.error;
  return r.config;
}

test("a config with evaluate.bfcl but no policy role is refused at validation, naming roles.policy", () => {
  const r = parseCampaignConfig({
    name: "u",
    endpoints: { sim: { baseUrl: "http://127.0.0.1:9/v1" } },
    roles: { generator: { endpoint: "sim", model: "m" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "evaluate.bfcl", categories: ["simple"] }],
  });
  assert.ok(!r.ok);
  assert.match(r.error.message, /roles\.policy: stages\[0\] \(evaluate\.bfcl\) calls the policy role/);
});

test("evaluate.bfcl with an unset API key variable names the endpoint and the variable", async () => {
  delete process.env.TOOLLOOP_TEST_UNSET_KEY;
  const c = config({ roles: { generator: { endpoint: "sim", model: "m" }, policy: { endpoint: "sim", model: "p" } } });
  await assert.rejects(
    evaluateBfclHandler.plan!(ctx(c)),
    (err: unknown) =>
      err instanceof StageInputError &&
      /environment variable TOOLLOOP_TEST_UNSET_KEY \(named by endpoints\.sim\.apiKeyEnv for roles\.policy\) is not set/.test(err.message),
  );
});

test("evaluate.bfcl with TOOLLOOP_BFCL_PYTHON pointing nowhere is a StageInputError naming it", async () => {
  const saved = process.env.TOOLLOOP_BFCL_PYTHON;
  process.env.TOOLLOOP_BFCL_PYTHON = "/nonexistent/python";
  process.env.TOOLLOOP_TEST_SET_KEY = "k";
  try {
    const c = parseCampaignConfig({
      name: "u",
      endpoints: { sim: { baseUrl: "http://127.0.0.1:9/v1", apiKeyEnv: "TOOLLOOP_TEST_SET_KEY" } },
      roles: { generator: { endpoint: "sim", model: "m" }, policy: { endpoint: "sim", model: "p" } },
      tools: { sources: [{ kind: "example" }] },
      stages: [{ name: "evaluate.bfcl", categories: ["simple"] }],
    });
    assert.ok(c.ok);
    await assert.rejects(
      evaluateBfclHandler.plan!(ctx(c.config)),
      (err: unknown) => err instanceof StageInputError && /TOOLLOOP_BFCL_PYTHON points to \/nonexistent\/python/.test(err.message),
    );
  } finally {
    if (saved === undefined) delete process.env.TOOLLOOP_BFCL_PYTHON;
    else process.env.TOOLLOOP_BFCL_PYTHON = saved;
  }
});
