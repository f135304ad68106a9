/**
 * synthesize.multiTurn resumed by a later attempt, against the LLM simulator and real PostgreSQL.
 * - After the tool library or the config changed: a campaign stopped mid-stage (an endpoint outage
 *   that outlived the retries, a pause) and started again, after a tool file was added or edited or
 *   a new config version was recorded, re-draws each slot's header from the library and config as
 *   they are now. A dialogue already under way must go on with the persona, style and tools it was
 *   started with (its stored header), and its samples must carry the tools it offered: the calls in
 *   its messages were made to those tools.
 * - After an attempt died between settling its dialogues and writing their samples: the retry writes
 *   them without asking any role anything, and their provenance must still say simulated.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { after, before, test } from "node:test";
import { parseCampaignConfig, type CampaignConfig } from "../../src/config/campaignConfig.js";
import { dialogueTurnsOf, iterationDialogues } from "../../src/db/repos/dialogues.js";
import { pageSamples } from "../../src/db/repos/samples.js";
import { upsertTools } from "../../src/db/repos/tools.js";
import { dialogues as dialoguesTable, samples as samplesTable } from "../../src/db/schema.js";
import type { McpTool } from "../../src/domain/types.js";
import { RequestLedger } from "../../src/framework/requestLedger.js";
import { buildStageContext } from "../../src/framework/stageContext.js";
import { createRoleClient } from "../../src/llm/client.js";
import { startSimulator, type SimulatorHandle } from "../../src/llm/simulator/server.js";
import type { UsageSink } from "../../src/llm/usage.js";
import { synthesizeMultiTurnHandler } from "../../src/stages/synthesize/multiTurn/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { EXAMPLE_TOOLS } from "../../src/tools/examples.js";
import { verifyRules } from "../../src/verification/rules.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";

const STAGE = "synthesize.multiTurn";
const RUN = Date.now().toString(36);

let res: StageResources;
let sim: SimulatorHandle;
before(async () => {
  res = await startStageResources("multi-turn-resume", 7);
  sim = await startSimulator({ seed: 7, latencyMs: 2, maxConcurrency: 8, quiet: true });
});
after(async () => {
  await sim?.close();
  await res?.close();
});

function config(personas: string[]): CampaignConfig {
  const role = (model: string) => ({ endpoint: "sim", model });
  const parsed = parseCampaignConfig({
    name: "multi-turn-resume",
    seed: 11,
    endpoints: { sim: { baseUrl: sim.url, maxConcurrency: 8, maxRetries: 1 } },
    roles: {
      planner: role("toolloop-sim-generator"),
      user: role("toolloop-sim-generator"),
      assistant: role("toolloop-sim"),
      toolServer: role("toolloop-sim"),
    },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: STAGE, dialogues: 6, batchSize: 6, turns: { mean: 4, max: 6 }, toolsPerDialogue: { min: 2, max: 3 }, personas }],
  });
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

function context(campaignId: string, cfg: CampaignConfig, signal: AbortSignal) {
  const db = res.db.db;
  const ledger = new RequestLedger(db, { campaignId, iteration: 1, stage: STAGE, batchIndex: null });
  const deps = {
    db,
    baseDir: res.workDir,
    log: () => undefined,
    createLlm: (c: CampaignConfig, role: string, usage: UsageSink) => createRoleClient(c, role, { usage }),
  };
  const stage = cfg.stages[0] as unknown as StageConfigOf<"synthesize.multiTurn">;
  return buildStageContext({ campaignId, iteration: 1, config: cfg, stage, signal, deps, ledger });
}

test(
  "a dialogue resumed after the library and config changed keeps its stored header; its samples carry the tools it offered",
  { timeout: 180_000 },
  async () => {
    const campaignId = `mt-resume-${RUN}`;
    const db = res.db.db;
    await upsertTools(
      db,
      campaignId,
      EXAMPLE_TOOLS.map(({ tool, domain }) => ({ tool, domain, source: "example", hash: tool.name })),
    );

    // First attempt: stopped once the batch has stored some turns, with every dialogue under way.
    const stop = new AbortController();
    const first = context(campaignId, config(["a careful accountant"]), stop.signal);
    await assert.rejects(
      synthesizeMultiTurnHandler.runBatch(first.ctx, 0, {
        resumeFrom: undefined,
        report: (p) => {
          if (p.turns >= 30) stop.abort(new Error("stopped for the test"));
        },
      }),
    );
    await first.ledger.drain();
    const underWay = (await iterationDialogues(db, campaignId, 1)).filter((d) => d.outcome === null);
    const resumed: string[] = [];
    for (const d of underWay) if ((await dialogueTurnsOf(db, d.id)).length > 1) resumed.push(d.id);
    assert.ok(resumed.length > 0, "some dialogues were stopped mid-way");
    const headers = new Map<string, { tools: McpTool[]; persona: string }>();
    for (const id of resumed) {
      const [row] = await db.select({ tools: dialoguesTable.tools, persona: dialoguesTable.persona }).from(dialoguesTable).where(eq(dialoguesTable.id, id));
      headers.set(id, { tools: row!.tools, persona: row!.persona });
    }

    // The library gains a tool (it sorts first, so every slot's draw changes) and the personas change.
    const extra: McpTool = { ...EXAMPLE_TOOLS[0]!.tool, name: "aaa_added_later" };
    await upsertTools(db, campaignId, [{ tool: extra, domain: "weather", source: "example", hash: extra.name }]);
    const second = context(campaignId, config(["a hurried journalist"]), new AbortController().signal);
    await synthesizeMultiTurnHandler.runBatch(second.ctx, 0, { resumeFrom: undefined, report: () => undefined });
    await second.ledger.drain();

    const samples = await pageSamples(db, { campaignId, iteration: 1, limit: 10_000 });
    let checked = 0;
    for (const s of samples) {
      const id = (s.metadata as { dialogue: { id: string } }).dialogue.id;
      const header = headers.get(id);
      if (!header) continue;
      checked++;
      assert.deepEqual(
        s.tools.map((t) => t.name),
        header.tools.map((t) => t.name),
        `${s.slotKey}: the sample offers the tools its dialogue was started with`,
      );
      const verdict = verifyRules({ kind: "multi_turn", messages: s.messages, tools: s.tools });
      assert.ok(verdict.ok, `${s.slotKey}: ${verdict.reasons.join("; ")}`);
    }
    assert.ok(checked > 0, "samples of resumed dialogues were written");
    // Every tool call of a resumed dialogue names one of its stored tools, and its user kept its persona.
    for (const [id, header] of headers) {
      const names = new Set(header.tools.map((t) => t.name));
      for (const t of await dialogueTurnsOf(db, id))
        if (t.kind === "assistant") for (const c of t.message.tool_calls ?? []) assert.ok(names.has(c.function.name), `${id} seq ${t.seq}: ${c.function.name}`);
    }
  },
);

test(
  "samples a retry writes for dialogues an earlier attempt settled keep their provenance: simulated, though this attempt asked nothing",
  { timeout: 180_000 },
  async () => {
    const campaignId = `mt-prov-${RUN}`;
    const db = res.db.db;
    await upsertTools(
      db,
      campaignId,
      EXAMPLE_TOOLS.map(({ tool, domain }) => ({ tool, domain, source: "example", hash: tool.name })),
    );
    const cfg = config(["a careful accountant"]);
    const first = context(campaignId, cfg, new AbortController().signal);
    await synthesizeMultiTurnHandler.runBatch(first.ctx, 0, { resumeFrom: undefined, report: () => undefined });
    await first.ledger.drain();
    const written = await pageSamples(db, { campaignId, iteration: 1, limit: 10_000 });
    assert.ok(written.length > 0);
    assert.ok(written.every((s) => (s.metadata as { provenance: { simulated?: boolean } }).provenance.simulated === true));
    // The attempt died after its dialogues were settled and before their samples were written.
    await db.delete(samplesTable).where(eq(samplesTable.campaignId, campaignId));
    const chats = sim.stats().byPath["/v1/chat/completions"] ?? 0;
    const retry = context(campaignId, cfg, new AbortController().signal);
    await synthesizeMultiTurnHandler.runBatch(retry.ctx, 0, { resumeFrom: undefined, report: () => undefined });
    await retry.ledger.drain();
    assert.equal((sim.stats().byPath["/v1/chat/completions"] ?? 0) - chats, 0, "the retry asked nothing");
    const rewritten = await pageSamples(db, { campaignId, iteration: 1, limit: 10_000 });
    assert.equal(rewritten.length, written.length, "every sample written again");
    for (const s of rewritten)
      assert.equal((s.metadata as { provenance: { simulated?: boolean } }).provenance.simulated, true, `${s.slotKey}: made by the simulator, and says so`);
  },
);
