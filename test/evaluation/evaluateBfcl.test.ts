/**
 * The evaluate.bfcl stage end to end: the official bfcl-eval package (in the project's venv) against
 * the LLM simulator, scores in real PostgreSQL, and a killed batch that resumes without generating
 * finished ids again. Runs the stage handler directly with a StageContext (no Temporal needed).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { parseCampaignConfig, type CampaignConfig } from "../../src/config/campaignConfig.js";
import type { DbHandle } from "../../src/db/client.js";
import { listBfclScores } from "../../src/db/repos/bfclScores.js";
import { BFCL_REGISTRY_NAME, countResultLines, ENSURE_VENV_SCRIPT, REPO_ROOT } from "../../src/evaluation/bfclEval.js";
import type { SimulatorHandle } from "../../src/llm/simulator/server.js";
import { bfclIterationDir, evaluateBfclHandler, GROUP_COUNTS_NOTE, type BfclProgress } from "../../src/stages/evaluate/bfcl/handler.js";
import type { BatchResult, StageContext } from "../../src/framework/stage.js";
import { buildStageContext } from "../../src/framework/stageContext.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";

type EvalStage = StageConfigOf<"evaluate.bfcl">;

// The venv is created by scripts/ensure-bfcl-venv.sh; CI must have it, a bare checkout may not.
const venvAvailable =
  Boolean(process.env.TOOLLOOP_BFCL_PYTHON) || fs.existsSync(path.join(REPO_ROOT, ".venv-bfcl", "bin", "python")) || fs.existsSync(ENSURE_VENV_SCRIPT);
const skip =
  !venvAvailable && process.env.CI !== "true" ? "no bfcl-eval environment (.venv-bfcl or scripts/ensure-bfcl-venv.sh); CI=true makes this a failure" : false;

let db: DbHandle;
let sim: SimulatorHandle;
let workDir: string;
let resources: StageResources | undefined;

before(async () => {
  if (skip) return;
  resources = await startStageResources("bfcl", 3);
  ({ db, sim, workDir } = resources);
});

after(async () => {
  await resources?.close();
});

function campaign(stage: Record<string, unknown>): CampaignConfig {
  const parsed = parseCampaignConfig({
    name: "bfcl-it",
    endpoints: { sim: { baseUrl: sim.url, maxConcurrency: 4 } },
    roles: { generator: { endpoint: "sim", model: "toolloop-sim-generator" }, policy: { endpoint: "sim", model: "toolloop-sim-policy" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "evaluate.bfcl", ...stage }],
  });
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

function context(campaignId: string, config: CampaignConfig, signal = new AbortController().signal): StageContext<EvalStage> {
  const refuse = () => {
    throw new Error("evaluate.bfcl must not use toolloop's LLM client");
  };
  return buildStageContext({
    campaignId,
    iteration: 1,
    config,
    stage: config.stages[0] as EvalStage,
    signal,
    deps: { db: db.db, baseDir: workDir, log: () => undefined, createLlm: refuse },
  }).ctx;
}

const noProgress = { resumeFrom: undefined, report: () => undefined };

test("evaluate.bfcl scores two categories with bfcl-eval and stores per-category and overall rows", { skip, timeout: 180_000 }, async () => {
  const campaignId = `bfcl-${Date.now().toString(36)}`;
  const config = campaign({ categories: ["irrelevance", "live_simple"], limitPerCategory: 4 });
  const ctx = context(campaignId, config);
  const plan = await evaluateBfclHandler.plan!(ctx);
  assert.deepEqual(plan, { batches: 2, items: 8 });

  const before = sim.stats().byPath["/v1/chat/completions"] ?? 0;
  const batches: BatchResult[] = [];
  const reports: BfclProgress[] = [];
  for (let b = 0; b < plan.batches; b++) batches.push(await evaluateBfclHandler.runBatch(ctx, b, { resumeFrom: undefined, report: (d) => reports.push(d) }));
  // Single-turn: one chat request per entry.
  assert.equal((sim.stats().byPath["/v1/chat/completions"] ?? 0) - before, 8);
  assert.deepEqual(
    batches.map((b) => [b.items, b.generated, b.reused]),
    [
      [4, 4, 0],
      [4, 4, 0],
    ],
  );
  assert.ok(
    reports.some((r) => r.category === "live_simple" && r.done === 4 && r.total === 4),
    "heartbeats carry per-category progress",
  );
  // And the batch's own (what campaign status adds up): each batch ends with its 4 entries settled.
  assert.deepEqual(
    reports.filter((r) => r.finished.length === 1).map((r) => [r.finished[0], r.settled]),
    [
      ["irrelevance", 4],
      ["live_simple", 4],
    ],
  );
  assert.ok(
    reports.every((r) => (r.settled ?? 0) <= 4),
    "never past the batch's entries",
  );

  const summary = (await evaluateBfclHandler.finalize?.(ctx, batches)) as Record<string, unknown>;
  const rows = await listBfclScores(db.db, campaignId, 1, "bfcl-eval");
  const byCategory = new Map(rows.map((r) => [r.category, r]));
  for (const c of ["irrelevance", "live_simple"]) {
    const row = byCategory.get(c);
    assert.ok(row, `row for ${c}`);
    assert.equal(row.total, 4);
    assert.equal(row.accuracy, row.correct / 4);
    assert.equal(
      batches.reduce((a, b) => a + (b.correct ?? 0), 0),
      ["irrelevance", "live_simple"].reduce((a, k) => a + (byCategory.get(k)?.correct ?? 0), 0),
    );
  }
  for (const g of ["overall", "non_live", "live", "multi_turn"]) {
    assert.ok(byCategory.has(g), `group row ${g}`);
    // Its counts are sums over the categories scored; its accuracy is the formula's, and the row says so.
    assert.equal(byCategory.get(g)?.details?.counts, GROUP_COUNTS_NOTE);
  }
  assert.equal(byCategory.get("overall")?.total, 8, "the entries the overall rests on");
  // bfcl-eval asked the simulator: its category rows and the groups that hold them say so.
  for (const c of ["irrelevance", "live_simple", "overall", "non_live", "live"]) assert.equal(byCategory.get(c)?.simulated, true, `${c} is marked simulated`);
  assert.equal(byCategory.get("multi_turn")?.simulated, false, "no multi-turn category was run, so that group has no simulated member");
  assert.equal(summary.simulated, true);
  // bfcl-eval's requests bypass the request ledger: the rows are the record of which model they scored.
  for (const row of rows) assert.deepEqual([row.details?.model, row.details?.endpoint], ["toolloop-sim-policy", sim.url], row.category);
  assert.equal(summary.model, "toolloop-sim-policy");
  assert.equal(byCategory.get("overall")?.accuracy, summary.overall);
  // The simulator's tool agent answers these well; the point is that numbers flow, not their size.
  assert.ok((byCategory.get("irrelevance")?.correct ?? 0) + (byCategory.get("live_simple")?.correct ?? 0) > 0, "the simulator gets some entries right");
  const irrelevance = byCategory.get("irrelevance")?.accuracy ?? 0;
  const liveSimple = byCategory.get("live_simple")?.accuracy ?? 0;
  // RULES.md: non-live = mean(mean(0, 0, 0), 0, 0, 0, irrelevance); live weighted with the
  // missing live categories at their full size; multi-turn 0.
  assert.ok(Math.abs((summary.nonLive as number) - irrelevance / 5) < 1e-12);
  assert.ok((summary.live as number) <= liveSimple * (4 / (4 + 1053)) + 1e-12);
  assert.ok(Math.abs((summary.overall as number) - ((summary.nonLive as number) + (summary.live as number)) / 3) < 1e-12);
  assert.equal(typeof (summary.packageSummary as Record<string, unknown>)["Overall Acc"], "number");

  // A retried batch whose heartbeat says a category is finished (and stored) does not run it again.
  const mark = sim.stats().byPath["/v1/chat/completions"] ?? 0;
  const resumed = await evaluateBfclHandler.runBatch(ctx, 0, { resumeFrom: { finished: ["irrelevance"], done: 0, total: 0 }, report: () => undefined });
  assert.deepEqual([resumed.items, resumed.generated, resumed.reused], [4, 0, 4]);
  assert.equal((sim.stats().byPath["/v1/chat/completions"] ?? 0) - mark, 0);
});

test("a killed batch resumes: ids already in the result file are not generated again", { skip, timeout: 180_000 }, async () => {
  const campaignId = `bfcl-kill-${Date.now().toString(36)}`;
  const config = campaign({ categories: ["simple"], limitPerCategory: 10, threads: 1 });
  const resultFile = path.join(
    bfclIterationDir(context(campaignId, config)),
    "simple",
    "result",
    BFCL_REGISTRY_NAME,
    "non_live",
    "BFCL_v4_simple_python_result.json",
  );
  sim.setLatency(250);
  const abort = new AbortController();
  const first = evaluateBfclHandler.runBatch(context(campaignId, config, abort.signal), 0, noProgress);
  // Abort once a few entries are written but well before all ten.
  const deadline = Date.now() + 60_000;
  while (countResultLines(resultFile) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  abort.abort(new Error("worker killed"));
  await assert.rejects(first, /worker killed/);
  sim.setLatency(5);

  const kept = fs
    .readFileSync(resultFile, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && isJson(l));
  assert.ok(kept.length >= 3 && kept.length < 10, `aborted midway (${kept.length} lines)`);

  const before = sim.stats().byPath["/v1/chat/completions"] ?? 0;
  const second = await evaluateBfclHandler.runBatch(context(campaignId, config), 0, noProgress);
  const requests = (sim.stats().byPath["/v1/chat/completions"] ?? 0) - before;
  assert.equal(second.reused, kept.length);
  assert.equal(second.generated, 10 - kept.length);
  assert.equal(requests, 10 - kept.length, "only the missing ids reach the endpoint");
  // The finished lines (each with its own latency stamp) survive byte for byte.
  const final = fs.readFileSync(resultFile, "utf8").split("\n");
  for (const line of kept) assert.ok(final.includes(line), `kept line regenerated: ${line.slice(0, 80)}`);
  assert.equal(final.filter((l) => l.trim() !== "").length, 10);
  const rows = await listBfclScores(db.db, campaignId, 1, "bfcl-eval");
  assert.equal(rows.find((r) => r.category === "simple")?.total, 10);
});

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

test(
  "a policy endpoint that refuses every request (unknown model) fails the batch instead of storing the refusals as answers",
  { skip, timeout: 180_000 },
  async () => {
    const campaignId = `bfcl-refused-${Date.now().toString(36)}`;
    // irrelevance: an answer without a call is right there, so a kept refusal scored 3/3 (accuracy 1).
    const config = campaign({ categories: ["irrelevance"], limitPerCategory: 3 });
    config.roles.policy = { ...config.roles.policy!, model: "no-such-model" };
    const ctx = context(campaignId, config);
    await assert.rejects(evaluateBfclHandler.runBatch(ctx, 0, noProgress), (err: Error) => {
      assert.equal(err.name, "StageInputError", "not retried: every request would be refused again");
      assert.match(err.message, /refused 3 requests for model "no-such-model"/);
      assert.match(err.message, /404/);
      assert.match(
        err.message,
        /Fix it at the endpoint \(serve the configured model at the configured baseUrl again\), then retry the stage; /,
        "the default onStageFailure (wait) leaves the stage to retry",
      );
      // A renamed model is the campaign's config, which retry-stage does not read: the abort and --config-version path.
      assert.ok(
        err.message.includes(
          `or, if the campaign's config must change instead (the model renamed, another baseUrl), run \`toolloop campaign abort ${campaignId}\`, ` +
            `then \`toolloop campaign start --config <changed file> --id ${campaignId} --config-version\` (retry-stage would run the frozen config again). ` +
            "The refused ids were removed from the result file and are generated again",
        ),
        err.message,
      );
      return true;
    });
    assert.deepEqual(await listBfclScores(db.db, campaignId, 1, "bfcl-eval"), [], "no score from answers the model never gave");
    // Under onStageFailure "fail" the campaign has failed when this is read: no stage waits to be retried.
    const failing = context(campaignId, { ...config, onStageFailure: "fail" });
    await assert.rejects(evaluateBfclHandler.runBatch(failing, 0, noProgress), (err: Error) => {
      assert.match(err.message, new RegExp(`then start the campaign again with \`toolloop campaign start --config <file> --id ${campaignId}\``));
      assert.match(
        err.message,
        new RegExp(`start the campaign again with \`toolloop campaign start --config <changed file> --id ${campaignId} --config-version\``),
      );
      assert.doesNotMatch(err.message, /retry the stage|campaign abort/);
      return true;
    });

    // Once the model name is right, the retry generates the refused ids and scores the model's answers.
    const fixed = context(campaignId, campaign({ categories: ["irrelevance"], limitPerCategory: 3 }));
    const before = sim.stats().byPath["/v1/chat/completions"] ?? 0;
    const retried = await evaluateBfclHandler.runBatch(fixed, 0, noProgress);
    assert.deepEqual([retried.items, retried.generated, retried.reused], [3, 3, 0]);
    assert.equal((sim.stats().byPath["/v1/chat/completions"] ?? 0) - before, 3);
  },
);

test(
  "a policy endpoint that refuses every key (401): the key goes in every worker's environment with a restart, not a config change",
  { skip, timeout: 180_000 },
  async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" } }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const campaignId = `bfcl-401-${Date.now().toString(36)}`;
      const config = campaign({ categories: ["irrelevance"], limitPerCategory: 2 });
      config.endpoints = { ...config.endpoints, sim: { ...config.endpoints.sim!, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` } };
      await assert.rejects(evaluateBfclHandler.runBatch(context(campaignId, config), 0, noProgress), (err: Error) => {
        assert.equal(err.name, "StageInputError", "not retried: every request would be refused again");
        assert.match(err.message, /refused 2 requests for model "toolloop-sim-policy" \(first: irrelevance_\d+: Error during inference: Error code: 401/);
        assert.match(
          err.message,
          /set the right key in the variable the endpoint's apiKeyEnv names, in the environment of every worker, and restart those workers \([^)]*\), then retry the stage; /,
        );
        assert.match(
          err.message,
          new RegExp(
            `if the endpoint has no apiKeyEnv or it names the wrong variable, change it in the campaign's config: run \`toolloop campaign abort ${campaignId}\``,
          ),
        );
        return true;
      });
    } finally {
      server.close();
    }
  },
);

test(
  "result files of another model are not reused: a re-run for a different roles.policy model generates every id again",
  { skip, timeout: 180_000 },
  async () => {
    const campaignId = `bfcl-model-${Date.now().toString(36)}`;
    const first = await evaluateBfclHandler.runBatch(context(campaignId, campaign({ categories: ["irrelevance"], limitPerCategory: 3 })), 0, noProgress);
    assert.deepEqual([first.generated, first.reused], [3, 0]);

    // The operator names another model (a new config version re-runs the iteration): the 3 answers on disk are not its answers.
    const config = campaign({ categories: ["irrelevance"], limitPerCategory: 3 });
    config.roles.policy = { ...config.roles.policy!, model: "toolloop-sim-policy-b" };
    const before = sim.stats().byPath["/v1/chat/completions"] ?? 0;
    const second = await evaluateBfclHandler.runBatch(context(campaignId, config), 0, noProgress);
    assert.deepEqual([second.generated, second.reused], [3, 0]);
    assert.equal((sim.stats().byPath["/v1/chat/completions"] ?? 0) - before, 3, "every id asked of the new model");
    const row = (await listBfclScores(db.db, campaignId, 1, "bfcl-eval")).find((r) => r.category === "irrelevance");
    assert.equal(row?.details?.model, "toolloop-sim-policy-b");
    assert.equal(row?.total, 3);

    // The same model again (a plain retry): nothing is generated twice.
    const third = await evaluateBfclHandler.runBatch(context(campaignId, config), 0, noProgress);
    assert.deepEqual([third.generated, third.reused], [0, 3]);
  },
);
