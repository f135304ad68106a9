/**
 * Temporal history events of one whole iteration of the self-evolving loop, per 1,000 pool samples.
 * Target (issue #10): at most 50. Runs a two-iteration campaign through the dev server, PostgreSQL
 * and the simulator: iteration 1 synthesizes ~1.3x the pool in seeds, verifies and dedupes them;
 * both iterations run the loop stages (select.nextRound ... expand.errors, the stand-in trainer on
 * the local launcher at zero seconds a step). Iteration 2 is the measured one: its workflow's
 * events plus those of every child workflow it started (stage chunks, stageJob children), found
 * from the child-workflow events of each history. Also prints judge calls per mismatch
 * (repair.labels) and where the events come from, by stage.
 *
 *   node dist/bench/loopHistory.js [--pool 5000] [--latency-ms 1] [--jitter-ms 4] [--concurrency 64]
 *     [--batches-in-parallel 4] [--stage-batch name=size ...]
 *
 * Stages keep their default batch sizes unless --stage-batch overrides one (e.g. score.consistency=500).
 * The training stages need the training venv (.venv-train; TOOLLOOP_TRAIN_PYTHON overrides it).
 * Uses TEMPORAL_ADDRESS / DATABASE_URL when set, else starts private servers.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import type { temporal } from "@temporalio/proto";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { freezeCampaignConfig } from "../src/config/frozen.js";
import { poolComposition } from "../src/db/repos/pools.js";
import { getStageRun } from "../src/db/repos/stages.js";
import { startSimulator } from "../src/llm/simulator/server.js";
import { taskQueues } from "../src/taskQueues.js";
import { stopServedPolicies } from "../src/training/servedPolicyJobs.js";
import { campaignWorkflowId, iterationWorkflowId } from "../workflows/definitions.js";
import { createTestEnv } from "../test/helpers/testEnv.js";
import { trainVenvPython } from "../test/helpers/trainVenv.js";

const { values } = parseArgs({
  options: {
    pool: { type: "string", default: "5000" },
    "latency-ms": { type: "string", default: "1" },
    "jitter-ms": { type: "string", default: "4" },
    concurrency: { type: "string", default: "64" },
    "batches-in-parallel": { type: "string", default: "4" },
    "stage-batch": { type: "string", multiple: true, default: [] },
  },
});
const pool = Number(values.pool);
const latencyMs = Number(values["latency-ms"]);
const jitterMs = Number(values["jitter-ms"]);
const cap = Number(values.concurrency);
const batchOverrides = new Map(
  values["stage-batch"].map((s) => {
    const m = /^([a-zA-Z.]+)=(\d+)$/.exec(s);
    if (!m) throw new Error(`--stage-batch ${s}: expected name=size, e.g. score.consistency=500`);
    return [m[1] as string, Number(m[2])];
  }),
);
const MEASURED_ITERATION = 2;

/** The loop as examples/demo.campaign.json runs it, sized by the pool; batch sizes are the stages' defaults. */
function loopStages(): Record<string, unknown>[] {
  const watch = { windowSeconds: 60, pollSeconds: 1 };
  const standin = { TOOLLOOP_STANDIN_STEP_SECONDS: "0" };
  const stages: Record<string, unknown>[] = [
    { name: "synthesize.singleTurn", runIn: "first", count: Math.ceil(1.3 * pool), mix: { standard: 0.6, parallel: 0.25, irrelevance: 0.15 } },
    { name: "verify.rules", runIn: "first" },
    { name: "dedupe.exact", runIn: "first" },
    {
      name: "select.nextRound",
      seedBudget: pool,
      budget: pool,
      mix: { high_ppl: 0.35, repaired: 0.15, error_seed: 0.1, expanded: 0.2, unused_seed: 0.2 },
      highPpl: { topFraction: 0.6 },
    },
    { name: "export.dataset", from: "pool", include: ["verified"] },
    { name: "export.verl", from: "pool", valFraction: 0.1, sft: true },
    { name: "train.sft", trainer: "standin", baseModel: "toolloop-sim-policy", sft: { trainBatchSize: 256, totalEpochs: 1 }, env: standin, watch },
    {
      name: "train.grpo",
      trainer: "standin",
      baseModel: "toolloop-sim-policy",
      grpo: { trainBatchSize: 256, rolloutN: 2, saveFreq: 100, totalEpochs: 1, ppoMiniBatchSize: 256 },
      env: standin,
      watch,
    },
    { name: "train.merge", trainer: "standin", watch },
    { name: "serve.policy", engine: "simulator", simulator: { mistakeRate: 0.15, seed: 42, idleExitMinutes: 15 }, watch },
    { name: "evaluate.bfclFast", categories: ["simple", "multiple", "parallel", "parallel_multiple", "irrelevance"], limitPerCategory: 60, batchSize: 5 },
    { name: "score.perplexity" },
    { name: "score.consistency", k: 4, temperature: 0.7 },
    { name: "probe.greedy" },
    { name: "repair.labels", committee: { members: [{ role: "judge", samples: 3 }], consensus: 2 } },
    { name: "expand.errors", perSeed: 2, committee: { members: [{ role: "judge", samples: 3 }], consensus: 2 } },
  ];
  for (const s of stages) {
    const size = batchOverrides.get(s.name as string);
    if (size !== undefined) s.batchSize = size;
  }
  return stages;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** What an event is spent on: the stage of the activity it belongs to, or the workflow's own bookkeeping. */
function eventBreakdown(events: HistoryEvent[], into: Map<string, number>, owner: string): void {
  const activityOf = new Map<string, { key: string; type: string }>();
  const add = (k: string, n = 1) => into.set(k, (into.get(k) ?? 0) + n);
  // A workflow task (3 events) is put down to what woke the workflow: the event before it was scheduled.
  let wokenBy = "start";
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const type = scheduled.activityType?.name ?? "?";
      const stage = stageOfPayload(scheduled.input?.payloads?.[0]?.data);
      const key = `${stage ?? owner} ${type}`;
      activityOf.set(String(e.eventId), { key, type });
      add(key);
      continue;
    }
    const sid =
      e.activityTaskStartedEventAttributes?.scheduledEventId ??
      e.activityTaskCompletedEventAttributes?.scheduledEventId ??
      e.activityTaskFailedEventAttributes?.scheduledEventId ??
      e.activityTaskTimedOutEventAttributes?.scheduledEventId ??
      e.activityTaskCancelRequestedEventAttributes?.scheduledEventId ??
      e.activityTaskCanceledEventAttributes?.scheduledEventId;
    if (sid != null) {
      const a = activityOf.get(String(sid));
      add(a?.key ?? `${owner} activity`);
      if (!e.activityTaskStartedEventAttributes) wokenBy = `a ${a?.type ?? "?"} result`;
      continue;
    }
    if (e.workflowTaskScheduledEventAttributes) add(`${owner} workflow tasks woken by ${wokenBy}`, 3);
    else if (e.workflowTaskStartedEventAttributes || e.workflowTaskCompletedEventAttributes) continue;
    else if (e.startChildWorkflowExecutionInitiatedEventAttributes) add(`${owner} child workflow start/result`);
    else if (e.childWorkflowExecutionStartedEventAttributes || e.childWorkflowExecutionCompletedEventAttributes) {
      add(`${owner} child workflow start/result`);
      wokenBy = e.childWorkflowExecutionStartedEventAttributes ? "a child's start" : "a child's result";
    } else if (e.signalExternalWorkflowExecutionInitiatedEventAttributes) add(`${owner} progress signals to the parent`);
    else if (e.externalWorkflowExecutionSignaledEventAttributes) {
      add(`${owner} progress signals to the parent`);
      wokenBy = "a progress signal's delivery";
    } else if (e.upsertWorkflowSearchAttributesEventAttributes) add(`${owner} search attribute upserts`);
    else if (e.workflowExecutionSignaledEventAttributes) {
      add(`${owner} signals received`);
      wokenBy = "a signal received";
    } else if (e.markerRecordedEventAttributes)
      add(e.markerRecordedEventAttributes.markerName === "core_local_activity" ? `${owner} local activities (bookkeeping)` : `${owner} markers (patches)`);
    else if (e.timerStartedEventAttributes || e.timerFiredEventAttributes) {
      add(`${owner} timers`);
      if (e.timerFiredEventAttributes) wokenBy = "a timer";
    } else add(`${owner} other`);
  }
}

function stageOfPayload(data: Uint8Array | null | undefined): string | undefined {
  if (!data) return undefined;
  try {
    const v = JSON.parse(Buffer.from(data).toString("utf8")) as { stage?: unknown };
    return typeof v.stage === "string" ? v.stage : undefined;
  } catch {
    return undefined;
  }
}

/** Events of a workflow and, recursively, of every child it started. */
async function historyTree(
  env: Awaited<ReturnType<typeof createTestEnv>>,
  workflowId: string,
  breakdown: Map<string, number>,
): Promise<{ workflows: { id: string; events: number }[] }> {
  const out: { id: string; events: number }[] = [];
  const visit = async (id: string, owner: string) => {
    const history = await env.client.workflow.getHandle(id).fetchHistory();
    const events = history.events ?? [];
    out.push({ id, events: events.length });
    eventBreakdown(events, breakdown, owner);
    for (const e of events) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
      if (child) await visit(child, childOwner(child, id));
    }
  };
  await visit(workflowId, "iteration");
  return { workflows: out };
}

/** `<parent>-<stage>-job-a1` / `<parent>-<stage>-a1-from0`: "<stage> stageJob child" / "<stage> chunk child". */
function childOwner(child: string, parent: string): string {
  const rest = child.startsWith(parent + "-") ? child.slice(parent.length + 1) : child;
  const job = /^(.+)-job-a\d+$/.exec(rest);
  if (job) return `${job[1]} (stageJob child)`;
  const chunk = /^(.+)-a\d+-from\d+$/.exec(rest);
  if (chunk) return `${chunk[1]} (chunk child)`;
  return rest;
}

// Worker lifecycle chatter would bury the figures.
Runtime.install({ logger: new DefaultLogger("WARN") });
const env = await createTestEnv("bench-loop");
const sim = await startSimulator({
  seed: 42,
  latencyMs,
  latencyJitterMs: jitterMs,
  maxConcurrency: cap,
  mistakeRate: 0.15,
  silentMistakeRate: 0.12,
  judgeErrorRate: 0.1,
  quiet: true,
});
const workers = await env.startWorkers({ heartbeatIntervalMs: 5000 });
const launcher = { kind: "local" as const, stateDir: path.join(env.workDir, "local-jobs") };
const campaignId = `bench-loop-${Date.now().toString(36)}`;
try {
  const raw = {
    name: "bench-loop",
    seed: 42,
    iterations: 2,
    endpoints: { sim: { baseUrl: sim.url, maxConcurrency: cap, timeoutMs: 60_000, maxRetries: 4 } },
    roles: {
      generator: { endpoint: "sim", model: "toolloop-sim-generator", temperature: 0.7 },
      judge: { endpoint: "sim", model: "toolloop-sim-judge", temperature: 0.7 },
      policy: { endpoint: "sim", model: "toolloop-sim-policy", temperature: 0 },
    },
    tools: { sources: [{ kind: "example" }] },
    stages: loopStages(),
    concurrency: { batchesInParallel: Number(values["batches-in-parallel"]) },
    onStageFailure: "fail",
    output: { dir: path.join(env.workDir, "output") },
    cluster: { launcher, python: trainVenvPython() },
  };
  const frozen = freezeCampaignConfig(raw, { configDir: process.cwd() });
  if (!frozen.ok) throw frozen.error;
  const wfId = campaignWorkflowId(campaignId);
  const started = Date.now();
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: wfId,
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: frozen.frozen, campaignId }],
  });
  const progress = setInterval(() => {
    void handle
      .query<{ iterationWorkflowId?: string }>("status")
      .then(async (c) => {
        const it = c.iterationWorkflowId
          ? ((await env.client.workflow
              .getHandle(c.iterationWorkflowId)
              .query<{ iteration?: number; currentStage?: string }>("status")
              .catch(() => undefined)) ?? {})
          : {};
        process.stderr.write(
          `\r[${((Date.now() - started) / 1000).toFixed(0)} s] iteration ${it.iteration ?? "?"} ${it.currentStage ?? ""}                    `,
        );
      })
      .catch(() => undefined);
  }, 5000);
  const result = (await handle.result()) as { state?: string };
  clearInterval(progress);
  const wall = (Date.now() - started) / 1000;
  process.stderr.write("\n");
  if (result.state !== "completed") throw new Error(`the campaign ended ${JSON.stringify(result).slice(0, 2000)}`);

  const key = (stage: string) => ({ campaignId, iteration: MEASURED_ITERATION, stage });
  const composition = await poolComposition(env.db.db, campaignId, MEASURED_ITERATION);
  const poolSize = Object.values(composition).reduce((sum, c) => sum + c.n, 0);
  const breakdown = new Map<string, number>();
  const tree = await historyTree(env, iterationWorkflowId(wfId, MEASURED_ITERATION), breakdown);
  const events = tree.workflows.reduce((s, w) => s + w.events, 0);
  const repair = (await getStageRun(env.db.db, key("repair.labels")))?.result as Record<string, unknown> | null;
  const repair1 = (await getStageRun(env.db.db, { campaignId, iteration: 1, stage: "repair.labels" }))?.result as Record<string, unknown> | null;

  console.log(
    `pool ${pool} asked (iteration 1 synthesizes ${Math.ceil(1.3 * pool)} seeds); iteration ${MEASURED_ITERATION}'s pool holds ${poolSize} samples; campaign wall ${wall.toFixed(0)} s; simulator L=${latencyMs}-${latencyMs + jitterMs} ms, C=${cap}; batches in parallel ${values["batches-in-parallel"]}${batchOverrides.size ? `; batch sizes ${[...batchOverrides].map(([k, v]) => `${k}=${v}`).join(", ")}` : ""}`,
  );
  console.log(
    `iteration ${MEASURED_ITERATION}'s pool: ${Object.entries(composition)
      .map(([reason, c]) => `${reason} ${c.n}`)
      .join(", ")}`,
  );
  console.log(`iteration ${MEASURED_ITERATION}: ${tree.workflows.length} workflow histories (the iteration and its children):`);
  for (const w of tree.workflows) console.log(`  ${String(w.events).padStart(6)}  ${w.id}`);
  console.log(`where the events come from:`);
  for (const [k, v] of [...breakdown].sort((a, b) => b[1] - a[1])) console.log(`  ${String(v).padStart(6)}  ${k}`);
  const perThousand = poolSize > 0 ? events / (poolSize / 1000) : NaN;
  // Batches are what grows with the pool; the rest is paid once per stage and per iteration.
  const batchEvents = [...breakdown].filter(([k]) => k.includes("runStageBatch")).reduce((sum, [, v]) => sum + v, 0);
  console.log(`of which batch activities and the workflow tasks they wake: ${batchEvents}; the rest (per stage, per iteration): ${events - batchEvents}`);
  console.log(`history events of iteration ${MEASURED_ITERATION}: ${events} = ${perThousand.toFixed(1)} per 1,000 pool samples (target <= 50)`);
  const perMismatch = (r: Record<string, unknown> | null) =>
    r ? `${String(r.judgeCallsPerMismatch)} (${String(r.judged ?? "?")} mismatches judged)` : "not run";
  console.log(`repair.labels judge calls per mismatch: iteration 1 ${perMismatch(repair1)}; iteration 2 ${perMismatch(repair)}`);
  console.log(`repair.labels summary, iteration ${MEASURED_ITERATION}: ${JSON.stringify(repair)}`);
} finally {
  await stopServedPolicies(env.db.db, campaignId, launcher, () => undefined).catch(() => undefined);
  await workers.stop();
  await sim.close();
  await env.close();
}
