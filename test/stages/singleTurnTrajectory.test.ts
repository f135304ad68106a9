/**
 * Whole single-turn trajectories through the stages, run directly (no Temporal) with real
 * PostgreSQL: synthesize.singleTurn with completeTrajectory (queries and labels from the LLM
 * simulator; the tool server's results and the agent's follow-up steps SCRIPTED by
 * test/helpers/scriptedToolServer.ts, which forwards every other request to the simulator), then
 * export.dataset with wholeTrajectories, rows read back; and the config's role check.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { upsertTools } from "../../src/db/repos/tools.js";
import { samples } from "../../src/db/schema.js";
import type { ChatMessage } from "../../src/domain/types.js";
import { STRICT_ROW_SCHEMA } from "../../src/export/openaiStrict.js";
import { createAjv } from "../../src/jsonSchema/ajv.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { exportDatasetHandler } from "../../src/stages/export/dataset/handler.js";
import { synthesizeSingleTurnHandler } from "../../src/stages/synthesize/singleTurn/handler.js";
import type { Trajectory } from "../../src/synthesis/trajectory.js";
import { EXAMPLE_TOOLS } from "../../src/tools/examples.js";
import { sha256Hex } from "../../src/util/ids.js";
import { startScriptedToolServer, type ScriptedToolServer } from "../helpers/scriptedToolServer.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import { campaignConfig, planAndRun, rawCampaign, stageContext } from "../helpers/selfEvolution.js";

let res: StageResources;
let tools: ScriptedToolServer;

before(async () => {
  res = await startStageResources("single-turn-trajectory", 23);
  tools = await startScriptedToolServer({ forwardTo: res.sim.url });
});
after(async () => {
  await tools?.close();
  await res?.close();
});

const RUN = Date.now().toString(36);

test("completeTrajectory: off by default; on, it needs roles.toolServer, named with the field path", () => {
  const raw = (stage: Record<string, unknown>, roles?: Record<string, unknown>) =>
    rawCampaign({ simUrl: "http://127.0.0.1:9/v1", stages: [{ name: "synthesize.singleTurn", count: 4, ...stage }], ...(roles ? { roles } : {}) });
  const off = parseCampaignConfig(raw({}));
  assert.ok(off.ok, off.ok ? "" : off.error.message);
  assert.deepEqual((off.config.stages[0] as StageConfigOf<"synthesize.singleTurn">).completeTrajectory, { enabled: false, maxRounds: 4 });
  const missing = parseCampaignConfig(raw({ completeTrajectory: { enabled: true } }));
  assert.ok(!missing.ok);
  assert.match(missing.error.message, /stages\[0\]\.completeTrajectory\.enabled: names the role "toolServer"; add roles\.toolServer/);
  const ok = parseCampaignConfig(raw({ completeTrajectory: { enabled: true, maxRounds: 2 } }, { toolServer: { endpoint: "sim", model: "m" } }));
  assert.ok(ok.ok, ok.ok ? "" : ok.error.message);
  const tooMany = parseCampaignConfig(raw({ completeTrajectory: { enabled: true, maxRounds: 17 } }, { toolServer: { endpoint: "sim", model: "m" } }));
  assert.ok(!tooMany.ok);
  assert.match(tooMany.error.message, /stages\[0\]\.completeTrajectory\.maxRounds: expected at most 16/);
  const exportRaw = rawCampaign({ simUrl: "http://127.0.0.1:9/v1", stages: [{ name: "export.dataset", wholeTrajectories: "yes" }] });
  const badExport = parseCampaignConfig(exportRaw);
  assert.ok(!badExport.ok);
  assert.match(badExport.error.message, /stages\[0\]\.wholeTrajectories: expected true or false/);
});

/** Every tool message answers a call of the assistant turn before it, and every call is answered. */
function assertCallsAnswered(messages: ChatMessage[], what: string): void {
  let open: string[] = [];
  for (const m of messages) {
    if (m.role === "assistant") {
      assert.deepEqual(open, [], `${what}: every call is answered before the next assistant turn`);
      open = (m.tool_calls ?? []).map((c) => c.id);
    } else if (m.role === "tool") {
      assert.ok(open.includes(m.tool_call_id), `${what}: tool message ${m.tool_call_id} answers an open call`);
      open = open.filter((id) => id !== m.tool_call_id);
    }
  }
  assert.deepEqual(open, [], `${what}: no call left unanswered`);
}

test("synthesize.singleTurn completes each calling sample's trajectory; export.dataset writes it as real OpenAI rows", { timeout: 180_000 }, async () => {
  const db = res.db.db;
  const campaignId = `trajectory-${RUN}`;
  await upsertTools(
    db,
    campaignId,
    EXAMPLE_TOOLS.map((t) => ({ tool: t.tool, source: "example", domain: t.domain, hash: sha256Hex(JSON.stringify(t.tool)) })),
  );
  // The "sim" endpoint is the scripted tool server, which forwards queries and labels to the simulator.
  const config = campaignConfig({
    simUrl: tools.url,
    stages: [
      {
        name: "synthesize.singleTurn",
        count: 6,
        batchSize: 6,
        mix: { standard: 1, parallel: 1, irrelevance: 1 },
        completeTrajectory: { enabled: true, maxRounds: 3 },
      },
      { name: "export.dataset", include: ["pending"], wholeTrajectories: true },
    ],
    roles: { toolServer: { endpoint: "sim", model: "scripted-tool-server" } },
  });
  const synth = stageContext<StageConfigOf<"synthesize.singleTurn">>(db, res.workDir, campaignId, config, "synthesize.singleTurn");
  const plan = await synthesizeSingleTurnHandler.plan!(synth);
  const result = await synthesizeSingleTurnHandler.runBatch(synth, 0, { resumeFrom: undefined, report: () => undefined });
  assert.equal(plan.batches, 1);
  assert.equal(result.written, 6, JSON.stringify(result));

  const rows = await db.select().from(samples).where(eq(samples.campaignId, campaignId));
  assert.equal(rows.length, 6);
  let completed = 0;
  for (const r of rows) {
    assert.equal(r.messages.length, 3, "the sample's messages stay (system, user, label)");
    const label = r.messages[2]!;
    const t = r.metadata.trajectory as Trajectory | undefined;
    if (label.role === "assistant" && (label.tool_calls?.length ?? 0) > 0) {
      assert.ok(t, `${r.kind} sample ${r.id} has its trajectory`);
      assert.equal(t.outcome, "final");
      assert.equal(t.calls, label.tool_calls!.length);
      assert.equal(t.simulatedResults, true);
      const last = t.messages[t.messages.length - 1]!;
      assert.ok(last.role === "assistant" && !last.tool_calls && typeof last.content === "string" && last.content.startsWith("Here is what I found"));
      assertCallsAnswered([...r.messages, ...t.messages], r.id);
      const provenance = r.metadata.provenance as { roles: Record<string, { model: string }> };
      assert.equal(provenance.roles.toolServer?.model, "scripted-tool-server", "the tool server's role is in the provenance");
      completed++;
    } else assert.equal(t, undefined, "a text label needs no trajectory");
  }
  assert.ok(completed >= 4, `standard and parallel samples call tools (${completed} completed)`);
  assert.equal(
    tools.toolServerCases.length,
    rows.reduce((a, r) => a + ((r.metadata.trajectory as Trajectory | undefined)?.calls ?? 0), 0),
    "each call executed once",
  );
  assert.equal(tools.agentRequests.length, completed, "one follow-up step per calling sample");
  assert.ok(tools.forwarded >= 12, "queries and labels came from the simulator");

  for (const format of ["toolloop", "openai-strict"] as const) {
    const exportConfig = { ...config, stages: config.stages.map((s) => (s.name === "export.dataset" ? { ...s, format } : s)) } as typeof config;
    const ctx = stageContext<StageConfigOf<"export.dataset">>(db, path.join(res.workDir, format), campaignId, exportConfig, "export.dataset");
    const [batch] = await planAndRun(db, ctx, exportDatasetHandler);
    assert.equal(batch!.rows, 6);
    assert.equal(batch!.trajectoriesAppended, completed);
    const file = path.join(ctx.outputDir(), "dataset.jsonl");
    const lines = (await readFile(file, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { messages: ChatMessage[]; metadata?: { trajectory?: Record<string, unknown> } });
    assert.equal(lines.length, 6);
    const whole = lines.filter((l) => l.messages.length > 3);
    assert.equal(whole.length, completed);
    for (const l of whole) {
      assert.deepEqual(
        l.messages.slice(0, 4).map((m) => m.role),
        ["system", "user", "assistant", "tool"],
      );
      assert.equal(l.messages[l.messages.length - 1]!.role, "assistant");
      assertCallsAnswered(l.messages, format);
      if (format === "toolloop") {
        assert.equal(l.metadata?.trajectory?.appended, true);
        assert.equal(l.metadata?.trajectory?.messages, undefined, "the messages moved into the row");
      }
    }
    if (format === "openai-strict") {
      const validate = createAjv().compile(STRICT_ROW_SCHEMA);
      for (const l of lines) assert.ok(validate(l), JSON.stringify(validate.errors));
    }
  }

  // Without the option the same samples export as they are: the label is the last message.
  const plainConfig = { ...config, stages: config.stages.map((s) => (s.name === "export.dataset" ? { ...s, wholeTrajectories: false } : s)) } as typeof config;
  const plain = stageContext<StageConfigOf<"export.dataset">>(db, path.join(res.workDir, "plain"), campaignId, plainConfig, "export.dataset");
  await planAndRun(db, plain, exportDatasetHandler);
  const plainLines = (await readFile(path.join(plain.outputDir(), "dataset.jsonl"), "utf8")).trim().split("\n");
  assert.ok(plainLines.every((l) => (JSON.parse(l) as { messages: unknown[] }).messages.length === 3));
});
