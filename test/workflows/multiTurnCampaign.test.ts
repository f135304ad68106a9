/**
 * examples/multi-turn.json end to end through the real Temporal dev server and workers, with the LLM
 * simulator playing every role: synthesize.multiTurn -> verify.rules -> verify.judges (a committee of three
 * samples of the simulated judge, reading each turn's whole prompt) -> dedupe.exact -> export.dataset.
 * The exported rows are OpenAI chat rows whose prompts hold the dialogue as it happened (assistant
 * tool_calls, tool messages, several user turns) and whose last message is the label; the stage's
 * summary is what the rows say.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { renderCampaignView } from "../../src/cli/statusView.js";
import { readCampaignFacts } from "../../src/db/repos/campaignStatus.js";
import { dialogueTurnsOf, iterationDialogues } from "../../src/db/repos/dialogues.js";
import { campaignView } from "../../src/status/campaignView.js";
import { iterationSampleCheckVotes } from "../../src/db/repos/sampleChecks.js";
import { JUDGES_VERIFIER } from "../../src/judging/sampleCheck.js";
import { samples, stageRuns } from "../../src/db/schema.js";
import type { ChatMessage } from "../../src/domain/types.js";
import { startSimulator, type SimulatorHandle } from "../../src/llm/simulator/server.js";
import { iterationOutputDir } from "../../src/output/layout.js";
import { buildReportHtml } from "../../src/reports/build.js";
import type { MultiTurnSummary } from "../../src/stages/synthesize/multiTurn/summary.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

const EXAMPLE = path.resolve("examples/multi-turn.json");

let env: TestEnv;
let sim: SimulatorHandle;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("multi-turn-campaign");
  sim = await startSimulator({ seed: 9, latencyMs: 2, maxConcurrency: 32, quiet: true });
  workers = await env.startWorkers();
});
after(async () => {
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

/** examples/multi-turn.json, smaller (`dialogues` in batches of `batchSize`), against `url`, run to its end. */
async function runExample(campaignId: string, url: string, dialogues: number, batchSize: number) {
  const example = JSON.parse(fs.readFileSync(EXAMPLE, "utf8")) as {
    endpoints: Record<string, { baseUrl: string }>;
    stages: { name: string; dialogues?: number; batchSize?: number }[];
  };
  for (const e of Object.values(example.endpoints)) e.baseUrl = url;
  const synth = example.stages.find((s) => s.name === "synthesize.multiTurn");
  assert.ok(synth, "the example runs synthesize.multiTurn");
  synth.dialogues = dialogues;
  synth.batchSize = batchSize;
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: example, campaignId }],
  });
  return handle.result();
}

test(
  "examples/multi-turn.json: dialogues -> verified multi-turn samples -> OpenAI chat rows with tool_calls and tool messages",
  { timeout: 300_000 },
  async () => {
    const campaignId = `multi-turn-${Date.now().toString(36)}`;
    // A smaller run of the same campaign: 12 dialogues in three batches.
    const result = await runExample(campaignId, sim.url, 12, 4);
    assert.equal(result.state, "completed");

    const db = env.db.db;
    const dialogues = await iterationDialogues(db, campaignId, 1);
    assert.equal(dialogues.length, 12);
    const kept = dialogues.filter((d) => d.status === "kept");
    assert.ok(kept.length > 0);

    const rows = await db.select().from(samples).where(eq(samples.campaignId, campaignId));
    assert.ok(rows.length > 0);
    assert.ok(
      rows.every((r) => r.kind === "multi_turn"),
      "every sample is multi-turn",
    );
    const verified = rows.filter((r) => r.status === "verified");
    assert.ok(verified.length > 0, `verify.rules passes multi-turn samples (statuses: ${[...new Set(rows.map((r) => r.status))].join(", ")})`);

    // verify.judges: every sample that passed the rules got three votes and a judges verdict.
    const votes = await iterationSampleCheckVotes(db, campaignId, 1);
    const passedRules = rows.filter((r) => r.verdicts.some((v) => v.verifier === "rules" && v.ok));
    assert.ok(passedRules.length > 0);
    for (const r of passedRules) {
      assert.equal(votes.get(r.id)?.length, 3, `three votes for ${r.id}`);
      const judged = r.verdicts.find((v) => v.verifier === JUDGES_VERIFIER);
      assert.ok(judged, `a judges verdict on ${r.id}`);
      assert.equal(r.status === "rejected", !judged.ok || r.verdicts.some((v) => !v.ok));
    }
    const judgedIncorrect = passedRules.filter((r) => r.verdicts.some((v) => v.verifier === JUDGES_VERIFIER && !v.ok)).length;

    const [run] = await db
      .select()
      .from(stageRuns)
      .where(and(eq(stageRuns.campaignId, campaignId), eq(stageRuns.iteration, 1), eq(stageRuns.stage, "synthesize.multiTurn")));
    const summary = run?.result as MultiTurnSummary | undefined;
    assert.ok(summary, "the stage's summary is stored");
    assert.equal(summary.dialogues.attempted, 12);
    assert.equal(summary.dialogues.kept, kept.length);
    assert.equal(summary.samples.written, rows.length);
    assert.ok((summary.tokensByRole.assistant?.requests ?? 0) > 0);

    const lines = fs
      .readFileSync(path.join(iterationOutputDir(env.workDir, "output", campaignId, 1), "dataset.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { kind: string; messages: ChatMessage[]; tools: { type: string; function: { name: string } }[] });
    assert.ok(lines.length > 0 && lines.length <= verified.length, `${lines.length} exported of ${verified.length} verified`);
    for (const line of lines) {
      assert.equal(line.kind, "multi_turn");
      assert.equal(line.messages.at(-1)?.role, "assistant", "the label is the last message");
      assert.doesNotMatch(JSON.stringify(line.messages), /#{2,4} ?task:/, "no role-play task marker in training data");
      assert.ok(line.tools.every((t) => t.type === "function"));
    }
    const withToolTraffic = lines.filter(
      (l) =>
        l.messages.some((m) => m.role === "tool") &&
        l.messages.some((m) => m.role === "assistant" && (m.tool_calls?.length ?? 0) > 0) &&
        l.messages.filter((m) => m.role === "user").length >= 2,
    );
    assert.ok(withToolTraffic.length > 0, "rows with assistant tool_calls, tool messages and several user turns");
    for (const l of withToolTraffic)
      for (const m of l.messages) {
        if (m.role === "assistant" && m.tool_calls)
          for (const c of m.tool_calls) assert.equal(typeof c.function.arguments, "string", "arguments as a JSON string");
        if (m.role === "tool") assert.equal(typeof m.tool_call_id, "string");
      }
    // `campaign status` reads the stage's progress from its dialogues.
    let stored = 0;
    for (const d of dialogues) stored += (await dialogueTurnsOf(db, d.id)).length;
    const facts = await readCampaignFacts(db, campaignId);
    const stage = facts?.stages.find((s) => s.name === "synthesize.multiTurn");
    const keptUnfinished = kept.filter((d) => d.outcome?.finished === false).length;
    assert.deepEqual(stage?.dialogues, {
      running: 0,
      kept: kept.length,
      keptUnfinished,
      dropped: dialogues.filter((d) => d.status === "dropped").length,
      failed: dialogues.filter((d) => d.status === "failed").length,
      messages: stored,
    });
    assert.equal(stage?.itemsDone, 12);
    const text = renderCampaignView(campaignView({ campaignId, db: facts }));
    const unfinishedShown = keptUnfinished > 0 ? ` \\(${keptUnfinished} unfinished\\)` : "";
    assert.match(text, new RegExp(`^ +dialogues: ${kept.length} kept${unfinishedShown}, \\d+ dropped, \\d+ failed; [\\d,]+ messages stored$`, "m"));

    console.log(
      `multi-turn campaign: ${kept.length}/12 dialogues kept, ${rows.length} samples, ${verified.length} verified (${judgedIncorrect} rejected by the judges), ${lines.length} exported`,
    );
  },
);

test(
  "a multi-turn synthesis that keeps no dialogue completes, but warns in its summary, campaign status and the report, with the drop reasons",
  { timeout: 300_000 },
  async () => {
    // Every plan the simulated planner writes is unusable: each dialogue is dropped as bad_plan (after one repair).
    const badPlans = await startSimulator({ seed: 9, latencyMs: 2, maxConcurrency: 32, quiet: true, dialogue: { plannerBadPlanRate: 1 } });
    try {
      const campaignId = `multi-turn-none-${Date.now().toString(36)}`;
      const result = await runExample(campaignId, badPlans.url, 6, 3);
      // As single-turn synthesis whose every slot fails, the stage is not failed for it.
      assert.equal(result.state, "completed");
      const db = env.db.db;
      const dialogues = await iterationDialogues(db, campaignId, 1);
      assert.equal(dialogues.length, 6);
      assert.deepEqual(
        dialogues.map((d) => [d.status, d.outcome?.dropReason]),
        Array.from({ length: 6 }, () => ["dropped", "bad_plan"]),
      );
      assert.equal((await db.select().from(samples).where(eq(samples.campaignId, campaignId))).length, 0);

      const warning = "no dialogue kept, so no multi-turn sample was written: 6 dropped (bad_plan 6) of 6";
      const [run] = await db
        .select()
        .from(stageRuns)
        .where(and(eq(stageRuns.campaignId, campaignId), eq(stageRuns.iteration, 1), eq(stageRuns.stage, "synthesize.multiTurn")));
      const summary = run?.result as MultiTurnSummary | undefined;
      assert.equal(summary?.warning, warning, "the stage summary warns");
      assert.deepEqual(summary?.dropReasons, { bad_plan: 6 });

      const facts = await readCampaignFacts(db, campaignId);
      const view = campaignView({ campaignId, db: facts });
      const stage = view.stages.find((s) => s.name === "synthesize.multiTurn");
      assert.equal(stage?.warning, warning, "campaign status --json carries the warning");
      assert.deepEqual(stage?.dialogues, { running: 0, kept: 0, keptUnfinished: 0, dropped: 6, failed: 0, messages: 0 });
      const text = renderCampaignView(view);
      assert.match(
        text,
        /^ +dialogues: 0 kept, 6 dropped, 0 failed; 0 messages stored\n +warning: no dialogue kept, so no multi-turn sample was written: 6 dropped \(bad_plan 6\) of 6$/m,
      );
      for (const s of view.stages.filter((x) => x.name !== "synthesize.multiTurn")) assert.equal(s.warning, undefined);

      const html = await buildReportHtml(db, { campaignId });
      assert.match(html, /id="multi-turn-warning"/);
      assert.ok(html.includes(`iteration 1, synthesize.multiTurn: ${warning}`), "the report warns, with the reasons");
    } finally {
      await badPlans.close();
    }
  },
);
