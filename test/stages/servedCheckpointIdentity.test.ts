/**
 * A retrained iteration is served again under the same name (`servedModelName`, else
 * `<campaign>-iter-N`), at the same URL and under the same model_versions id, so stored evaluation
 * results must be told apart by the weights behind the name: serve.policy's prepare/collect register
 * the served version as the framework would (on a real database), then the stages that reuse results
 * run against the real LLM simulator at that very URL. A plain retry against the same served
 * checkpoint (also a server restarted on it) still reuses every result.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import type { CampaignConfig } from "../../src/config/campaignConfig.js";
import { listBfclScores } from "../../src/db/repos/bfclScores.js";
import { getModelVersion, upsertModelVersion, type ModelVersionRow } from "../../src/db/repos/modelVersions.js";
import type { StageJob } from "../../src/framework/clusterJob.js";
import type { StageContext, StageEntry } from "../../src/framework/stage.js";
import { buildStageContext } from "../../src/framework/stageContext.js";
import { RequestLedger } from "../../src/framework/requestLedger.js";
import { createRoleClient } from "../../src/llm/client.js";
import { CHECKPOINT_PROFILE_FORMAT } from "../../src/llm/simulator/checkpointProfile.js";
import type { UsageSink } from "../../src/llm/usage.js";
import { ENSURE_VENV_SCRIPT, REPO_ROOT } from "../../src/evaluation/bfclEval.js";
import { bfclIterationDir, evaluateBfclHandler } from "../../src/stages/evaluate/bfcl/handler.js";
import { evaluateBfclFastHandler, PROBE_EVALUATOR } from "../../src/stages/evaluate/bfclFast/handler.js";
import { servePolicyHandler } from "../../src/stages/serve/policy/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { withServedPolicy } from "../../src/training/servedPolicy.js";
import { probeResultsOf } from "../../src/db/repos/probes.js";
import { sampleScores } from "../../src/db/schema.js";
import { probeGreedyHandler } from "../../src/stages/probe/greedy/handler.js";
import { scoreConsistencyHandler } from "../../src/stages/score/consistency/handler.js";
import { campaignConfig, planAndRun, seedPool, stageContext } from "../helpers/selfEvolution.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";

type ServeStage = StageConfigOf<"serve.policy">;
type FastStage = StageConfigOf<"evaluate.bfclFast">;
type BfclStage = StageConfigOf<"evaluate.bfcl">;
type GreedyStage = StageConfigOf<"probe.greedy">;
type ConsistencyStage = StageConfigOf<"score.consistency">;

// As in test/evaluation/evaluateBfcl.test.ts: the bfcl-eval venv, which a bare checkout may lack.
const venvAvailable =
  Boolean(process.env.TOOLLOOP_BFCL_PYTHON) || fs.existsSync(path.join(REPO_ROOT, ".venv-bfcl", "bin", "python")) || fs.existsSync(ENSURE_VENV_SCRIPT);
const skipBfcl = !venvAvailable && process.env.CI !== "true" ? "no bfcl-eval environment; CI=true makes this a failure" : false;

let res: StageResources;
before(async () => {
  res = await startStageResources("served-identity", 5);
});
after(async () => {
  await res?.close();
});

const RUN = Date.now().toString(36);
const SERVED_NAME = "toolloop-sim-policy-served";
const noProgress = { resumeFrom: undefined, report: () => undefined };
const chatRequests = () => res.sim.stats().byPath["/v1/chat/completions"] ?? 0;

function config(extraStages: Record<string, unknown>[] = []): CampaignConfig {
  // The server's port is the simulator's: what serve.policy registers is the URL the evaluation then asks.
  const port = Number(new URL(res.sim.url).port);
  return campaignConfig({
    simUrl: res.sim.url,
    stages: [
      { name: "serve.policy", engine: "simulator", port, servedModelName: SERVED_NAME, simulator: { idleExitMinutes: 5 } },
      { name: "evaluate.bfclFast", categories: ["simple"], limitPerCategory: 3 },
      { name: "evaluate.bfcl", categories: ["irrelevance"], limitPerCategory: 3 },
      { name: "probe.greedy", batchSize: 10 },
      { name: "score.consistency", k: 2, batchSize: 10 },
      ...extraStages,
    ],
  });
}

/** train.merge's output: the merged folder (the stand-in trainer's profile) and its model_versions row. */
async function merged(campaignId: string, steps: number): Promise<void> {
  const dir = path.join(res.workDir, campaignId, "merged");
  fs.mkdirSync(dir, { recursive: true });
  const profile = { simulated: true, format: CHECKPOINT_PROFILE_FORMAT, steps, trainedTools: {}, mistakeRateScale: {}, meanReward: 0 };
  fs.writeFileSync(path.join(dir, "toolloop_profile.json"), JSON.stringify(profile));
  await upsertModelVersion(res.db.db, { campaignId, iteration: 1, kind: "merged", baseModel: "toolloop-sim-policy", path: dir, simulated: true });
}

/** serve.policy's attempt as the framework runs it: prepare, the job, collect (the server itself is the simulator already listening). */
async function serve(campaignId: string, attempt: number): Promise<ModelVersionRow> {
  const ctx = stageContext<ServeStage>(res.db.db, res.workDir, campaignId, config(), "serve.policy", 1);
  const { request } = await servePolicyHandler.prepare(ctx, attempt);
  const name = `${campaignId}-serve-a${attempt}`;
  const job: StageJob = { name, attempt, ref: { launcher: "local", name, externalId: String(attempt) }, request: { ...request, name } };
  await servePolicyHandler.collect(ctx, job);
  const row = await getModelVersion(res.db.db, campaignId, 1, "served");
  assert.ok(row);
  return row;
}

/** A stage after serve.policy: its policy role bound to the served version, as the activity binds it. */
function evalContext<S extends StageEntry>(campaignId: string, served: ModelVersionRow, stageName: string, cfg = config()): StageContext<S> {
  const bound = withServedPolicy(cfg, { iteration: 1, url: served.url!, servedModel: served.servedModel! });
  const deps = {
    db: res.db.db,
    baseDir: res.workDir,
    log: () => undefined,
    createLlm: (c: CampaignConfig, role: string, usage: UsageSink) => createRoleClient(c, role, { usage }),
  };
  return buildStageContext({
    campaignId,
    iteration: 1,
    config: bound,
    stage: bound.stages.find((s) => s.name === stageName) as unknown as S,
    signal: new AbortController().signal,
    deps,
    policyVersionId: served.id,
    ledger: new RequestLedger(res.db.db, { campaignId, iteration: 1, stage: stageName, batchIndex: null }),
  }).ctx;
}

test("evaluate.bfclFast: a retrain served under the same name and URL is probed again; a retry or a restarted server on the same checkpoint reuses the rows", async () => {
  const campaignId = `served-fast-${RUN}`;
  await merged(campaignId, 1);
  const first = await serve(campaignId, 1);
  const probe = async (served: ModelVersionRow) => {
    const mark = chatRequests();
    const r = await evaluateBfclFastHandler.runBatch(evalContext<FastStage>(campaignId, served, "evaluate.bfclFast"), 0, noProgress);
    return { probed: r.probed, reused: r.reused, requests: chatRequests() - mark };
  };
  assert.deepEqual(await probe(first), { probed: 3, reused: 0, requests: 3 });
  assert.deepEqual(await probe(first), { probed: 0, reused: 3, requests: 0 }, "a plain retry asks nothing again");

  // The operator resumes the iteration from train.grpo: new weights in the same folder, served again.
  await merged(campaignId, 2);
  const retrained = await serve(campaignId, 2);
  assert.deepEqual([retrained.id, retrained.servedModel, retrained.url], [first.id, first.servedModel, first.url], "name, URL and id all alike");
  assert.deepEqual(await probe(retrained), { probed: 3, reused: 0, requests: 3 }, "the old weights' rows are not the new model's score");
  const row = (await listBfclScores(res.db.db, campaignId, 1, PROBE_EVALUATOR)).find((r) => r.category === "simple");
  assert.equal(row?.details?.model, SERVED_NAME);

  // The same checkpoint served by a new server job (a restart): its rows are reused.
  const restarted = await serve(campaignId, 3);
  assert.deepEqual(await probe(restarted), { probed: 0, reused: 3, requests: 0 });
  const summary = (await evaluateBfclFastHandler.finalize!(evalContext<FastStage>(campaignId, restarted, "evaluate.bfclFast"), [])) as Record<string, unknown>;
  assert.equal(summary.model, SERVED_NAME);
  assert.equal(
    (summary.servedCheckpoint as { fingerprint?: string }).fingerprint,
    (retrained.details as { checkpoint: { fingerprint: string } }).checkpoint.fingerprint,
  );
});

test(
  "evaluate.bfcl: a retrain served under the same name and URL sets the result files aside and asks again; a retry generates nothing",
  { skip: skipBfcl, timeout: 240_000 },
  async () => {
    const campaignId = `served-bfcl-${RUN}`;
    await merged(campaignId, 1);
    const first = await serve(campaignId, 1);
    const ctxOf = (served: ModelVersionRow) => evalContext<BfclStage>(campaignId, served, "evaluate.bfcl");
    const run = async (served: ModelVersionRow, finished: string[] = []) => {
      const mark = chatRequests();
      const r = await evaluateBfclHandler.runBatch(ctxOf(served), 0, { resumeFrom: { finished, done: 0, total: 0 }, report: () => undefined });
      return { generated: r.generated, reused: r.reused, requests: chatRequests() - mark };
    };
    assert.deepEqual(await run(first), { generated: 3, reused: 0, requests: 3 });
    assert.deepEqual(await run(first), { generated: 0, reused: 3, requests: 0 }, "a plain retry: bfcl-eval finds every id in its result file");
    await evaluateBfclHandler.finalize!(ctxOf(first), []);

    await merged(campaignId, 2);
    const retrained = await serve(campaignId, 2);
    assert.deepEqual([retrained.servedModel, retrained.url], [first.servedModel, first.url]);
    // finalize before the batches ran again: the stored score is of the old weights.
    await assert.rejects(evaluateBfclHandler.finalize!(ctxOf(retrained), []), /of another model or served checkpoint than "toolloop-sim-policy-served"/);
    // Even a heartbeat saying the category was finished (by the old weights) does not make it this model's.
    assert.deepEqual(await run(retrained, ["irrelevance"]), { generated: 3, reused: 0, requests: 3 });
    const root = path.join(bfclIterationDir(ctxOf(retrained)), "irrelevance");
    assert.equal(fs.readdirSync(path.join(root, "superseded")).length, 1, "the old weights' result and score files are kept aside");
    await evaluateBfclHandler.finalize!(ctxOf(retrained), []);
    const rows = await listBfclScores(res.db.db, campaignId, 1, "bfcl-eval");
    for (const r of rows) {
      const served = r.details?.servedCheckpoint as { modelVersionId?: string; fingerprint?: string } | undefined;
      assert.equal(served?.modelVersionId, retrained.id, r.category);
      assert.equal(served?.fingerprint, (retrained.details as { checkpoint: { fingerprint: string } }).checkpoint.fingerprint, r.category);
    }
    assert.deepEqual(await run(retrained, ["irrelevance"]), { generated: 0, reused: 3, requests: 0 }, "and its own stored score is reused");
  },
);

test("probe.greedy and score.consistency: a retrain served under the same name is asked again and its rows replace the old ones; a retry asks nothing", async () => {
  const campaignId = `served-pool-${RUN}`;
  const db = res.db.db;
  const seeds = await seedPool(db, createRoleClient(config(), "generator"), campaignId, 4);
  const ids = seeds.map((s) => s.id);
  await merged(campaignId, 1);
  const first = await serve(campaignId, 1);
  const runBoth = async (served: ModelVersionRow) => {
    const mark = chatRequests();
    const probe = await planAndRun(db, evalContext<GreedyStage>(campaignId, served, "probe.greedy"), probeGreedyHandler);
    const probeRequests = chatRequests() - mark;
    const scored = await planAndRun(db, evalContext<ConsistencyStage>(campaignId, served, "score.consistency"), scoreConsistencyHandler);
    return {
      probed: probe.reduce((a, b) => a + (b.probed ?? 0), 0),
      probeRequests,
      scored: scored.reduce((a, b) => a + (b.scored ?? 0), 0),
      scoreRequests: chatRequests() - mark - probeRequests,
    };
  };
  assert.deepEqual(await runBoth(first), { probed: 4, probeRequests: 4, scored: 4, scoreRequests: 8 });
  assert.deepEqual(await runBoth(first), { probed: 0, probeRequests: 0, scored: 0, scoreRequests: 0 }, "a plain retry asks nothing");

  await merged(campaignId, 2);
  const retrained = await serve(campaignId, 2);
  assert.deepEqual(await runBoth(retrained), { probed: 4, probeRequests: 4, scored: 4, scoreRequests: 8 }, "the old weights' answers are not reused");
  const fingerprint = (retrained.details as { checkpoint: { fingerprint: string } }).checkpoint.fingerprint;
  assert.notEqual(fingerprint, (first.details as { checkpoint: { fingerprint: string } }).checkpoint.fingerprint);
  const probes = await probeResultsOf(db, campaignId, 1, ids);
  assert.equal(probes.size, 4);
  for (const p of probes.values())
    assert.equal((p.servedCheckpoint as { fingerprint?: string } | null)?.fingerprint, fingerprint, "replaced by the new answer");
  const scores = await db.select().from(sampleScores).where(eq(sampleScores.campaignId, campaignId));
  assert.equal(scores.length, 4);
  for (const r of scores) assert.equal((r.details as { servedCheckpoint?: { fingerprint?: string } }).servedCheckpoint?.fingerprint, fingerprint);
  assert.deepEqual(await runBoth(await serve(campaignId, 3)), { probed: 0, probeRequests: 0, scored: 0, scoreRequests: 0 }, "a restart on it reuses them");
});
