/**
 * A campaign against the real dev server and PostgreSQL: synthesize.singleTurn with whole
 * trajectories -> verify.rules -> verify.judges -> export.dataset (wholeTrajectories). Queries and
 * labels come from the LLM simulator; the tool server's results and the agent's final answers are
 * SCRIPTED (test/helpers/scriptedToolServer.ts, in front of the simulator), and so is the judge
 * committee (test/helpers/scriptedJudge.ts: INCORRECT for every label with more than one call, one
 * dissenting seed), so the statuses and the exported rows can be checked exactly.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { sampleCheckVotes, samples, stageRuns } from "../../src/db/schema.js";
import { SAMPLE_CHECK_MARKER } from "../../src/dialogue/protocol.js";
import type { ChatMessage } from "../../src/domain/types.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { iterationOutputDir } from "../../src/output/layout.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { startScriptedJudge, type ScriptedJudge } from "../helpers/scriptedJudge.js";
import { startScriptedToolServer, type ScriptedToolServer } from "../helpers/scriptedToolServer.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let tools: ScriptedToolServer;
let judge: ScriptedJudge;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("trajjudge");
  sim = await startSimulator({ seed: 11, latencyMs: 2, maxConcurrency: 16, quiet: true });
  tools = await startScriptedToolServer({ forwardTo: sim.url });
  judge = await startScriptedJudge(
    (r) => {
      const calls = (r.case.label as { tool_calls: unknown[] }).tool_calls.length;
      // Seed 2 always dissents: the committee (3 votes, consensus 2) still decides.
      const verdict = calls > 1 !== (r.seed === 2) ? "INCORRECT" : "CORRECT";
      return { verdict, analysis: `scripted: ${calls} call(s)` };
    },
    { markers: [SAMPLE_CHECK_MARKER] },
  );
  workers = await env.startWorkers();
});

after(async () => {
  await workers?.stop();
  await judge?.close();
  await tools?.close();
  await sim?.close();
  await env?.close();
});

test("single-turn trajectories -> rules -> judge committee -> export of whole trajectories", { timeout: 300_000 }, async () => {
  const campaignId = `trajjudge-${Date.now().toString(36)}`;
  const base = simulatorCampaign(tools.url, { count: 12, batchSize: 6 });
  const config = {
    ...base,
    endpoints: { ...base.endpoints, judges: { baseUrl: judge.url, maxConcurrency: 4, timeoutMs: 10_000, maxRetries: 1 } },
    roles: {
      ...base.roles,
      toolServer: { endpoint: "sim", model: "scripted-tool-server" },
      judge: { endpoint: "judges", model: "scripted-judge" },
    },
    stages: [
      {
        name: "synthesize.singleTurn",
        count: 12,
        batchSize: 6,
        mix: { standard: 0.5, parallel: 0.3, irrelevance: 0.2 },
        completeTrajectory: { enabled: true },
      },
      { name: "verify.rules", batchSize: 6 },
      { name: "verify.judges", batchSize: 6, committee: { members: [{ role: "judge", samples: 3 }], consensus: 2 } },
      // Every verified sample, whole: the example tools include BFCL function signatures, which decontamination would leave out.
      { name: "export.dataset", wholeTrajectories: true, format: "openai-strict", decontaminate: { enabled: false } },
    ],
  };
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  const result = await handle.result();
  assert.equal(result.state, "completed");

  const db = env.db.db;
  const rows = await db.select().from(samples).where(eq(samples.campaignId, campaignId));
  assert.equal(rows.length, 12);
  const passedRules = rows.filter((r) => r.verdicts.some((v) => v.verifier === "rules" && v.ok));
  assert.ok(passedRules.length > 0);
  const callsOf = (m: ChatMessage[]) => {
    const label = m[m.length - 1]!;
    return label.role === "assistant" ? (label.tool_calls?.length ?? 0) : 0;
  };
  for (const r of passedRules) {
    const judged = r.verdicts.find((v) => v.verifier === "judges");
    assert.ok(judged, `${r.id} (passed the rules) was judged`);
    assert.equal(judged.ok, callsOf(r.messages) <= 1, `${r.id}: ${callsOf(r.messages)} call(s) -> ${JSON.stringify(judged)}`);
    assert.equal(r.status, judged.ok ? "verified" : "rejected");
  }
  for (const r of rows.filter((x) => !passedRules.includes(x))) assert.ok(!r.verdicts.some((v) => v.verifier === "judges"), "rule rejects are not judged");
  const votes = await db.select().from(sampleCheckVotes).where(eq(sampleCheckVotes.campaignId, campaignId));
  assert.equal(votes.length, passedRules.length * 3, "three votes per judged sample");

  const [judgesRun] = await db
    .select()
    .from(stageRuns)
    .where(and(eq(stageRuns.campaignId, campaignId), eq(stageRuns.stage, "verify.judges")));
  const summary = judgesRun?.result as
    { judged: number; votes: number; verdicts: Record<string, number>; judgeAgreement: Record<string, { rate: number }> } | undefined;
  assert.ok(summary, "the stage's summary is stored");
  assert.equal(summary.judged, passedRules.length);
  assert.equal(summary.votes, passedRules.length * 3);
  assert.equal(summary.verdicts.CORRECT! + summary.verdicts.INCORRECT!, passedRules.length);
  assert.equal(summary.judgeAgreement["judge#2"]?.rate, 0, "the dissenting seed never agrees");

  const verified = rows.filter((r) => r.status === "verified");
  const file = path.join(iterationOutputDir(env.workDir, ".toolloop/output", campaignId, 1), "dataset.jsonl");
  const lines = fs
    .readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { messages: ChatMessage[] });
  assert.equal(lines.length, verified.length);
  let whole = 0;
  for (const l of lines) {
    const label = l.messages[2]!;
    if (label.role === "assistant" && (label.tool_calls?.length ?? 0) > 0) {
      whole++;
      const answered = new Set(l.messages.filter((m) => m.role === "tool").map((m) => (m as { tool_call_id: string }).tool_call_id));
      for (const c of label.tool_calls!) assert.ok(answered.has(c.id), "each call of the label has its tool message");
      const last = l.messages[l.messages.length - 1]!;
      assert.ok(last.role === "assistant" && typeof last.content === "string" && !("tool_calls" in last), "the row ends with the final answer");
    } else assert.equal(l.messages.length, 3);
  }
  assert.ok(whole > 0, "some exported rows are whole trajectories");
});
