/**
 * The policy is probed and scored on the prompt it is trained on. Multi-turn samples are stored as
 * the dialogue assistant was asked, with its role-play marker (`### task: dialogue-assistant`) in the
 * system prompt; the exports drop that line. score.perplexity, score.consistency and probe.greedy
 * must send the policy the same marker-free prompt (policyPromptOf), repair.labels' judges must see
 * that prompt beside the prediction, the stored samples (and so their ids) must not change, and the
 * simulated policy must still answer as the dialogue's assistant did. Run directly on real
 * PostgreSQL and the LLM simulator over HTTP, with dialogues the simulator played.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import type { CampaignConfig } from "../../src/config/campaignConfig.js";
import type { Db } from "../../src/db/client.js";
import { insertPoolMembers } from "../../src/db/repos/pools.js";
import { probeResultsOf } from "../../src/db/repos/probes.js";
import { listSampleScores } from "../../src/db/repos/scores.js";
import { samples } from "../../src/db/schema.js";
import { ASSISTANT_INSTRUCTIONS, ASSISTANT_SYSTEM } from "../../src/dialogue/protocol.js";
import type { ChatMessage } from "../../src/domain/types.js";
import { toDatasetLine } from "../../src/export/dataset.js";
import { policyPromptOf } from "../../src/export/trainingMessages.js";
import { buildStageContext } from "../../src/framework/stageContext.js";
import { RequestLedger } from "../../src/framework/requestLedger.js";
import type { StageContext, StageEntry } from "../../src/framework/stage.js";
import { parseCaseMessage } from "../../src/judging/protocol.js";
import { type ChatRequest } from "../../src/llm/client.js";
import { probeGreedyHandler } from "../../src/stages/probe/greedy/handler.js";
import { repairLabelsHandler } from "../../src/stages/repair/labels/handler.js";
import { scoreConsistencyHandler } from "../../src/stages/score/consistency/handler.js";
import { scorePerplexityHandler } from "../../src/stages/score/perplexity/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { canonicalJson, sampleId } from "../../src/util/ids.js";
import { insertMultiTurnSamples } from "../helpers/multiTurnSamples.js";
import { campaignConfig, planAndRun } from "../helpers/selfEvolution.js";
import { inProcessAsk, playDialogue } from "../helpers/simDialogue.js";
import { DIALOGUE_TOOLS } from "../helpers/simDialogueTools.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import { recordingCreateLlm } from "../helpers/recordingLlm.js";

let res: StageResources;
before(async () => {
  res = await startStageResources("multi-turn-policy-prompt", 23);
});
after(async () => res?.close());

const campaignId = `mtp-${Date.now().toString(36)}`;
const sent: { role: string; req: ChatRequest }[] = [];

function context<S extends StageEntry>(db: Db, config: CampaignConfig, stageName: string): StageContext<S> {
  const stage = config.stages.find((s) => s.name === stageName) as unknown as S;
  const deps = {
    db,
    baseDir: res.workDir,
    log: () => undefined,
    createLlm: recordingCreateLlm(sent),
  };
  const ledger = new RequestLedger(db, { campaignId, iteration: 1, stage: stageName, batchIndex: null });
  return buildStageContext({ campaignId, iteration: 1, config, stage, signal: new AbortController().signal, deps, ledger }).ctx;
}

test(
  "probe.greedy, score.perplexity, score.consistency and repair.labels send the export's prompt, without the role-play marker",
  { timeout: 180_000 },
  async () => {
    const db = res.db.db;
    const config = campaignConfig({
      simUrl: res.sim.url,
      stages: [
        { name: "score.perplexity" },
        { name: "score.consistency", k: 2, temperature: 0.7 },
        { name: "probe.greedy" },
        { name: "repair.labels", committee: { members: [{ role: "judge", samples: 2 }], consensus: 2 } },
      ],
    });
    // Two dialogues the simulator played as synthesize.multiTurn asks it: the assistant's system prompt carries the marker.
    const played = await Promise.all(
      [5, 6].map((seed) =>
        playDialogue(inProcessAsk(seed, { dialogue: { missingParameterRate: 0.3, userChangeOfMindRate: 0 } }), { tools: DIALOGUE_TOOLS, targetTurns: 4 }),
      ),
    );
    for (const d of played) assert.equal(d.messages[0]?.content, ASSISTANT_SYSTEM);
    // One cut's label is planted wrong (a call the dialogue never asked for), so the probe mismatches it and the judges are asked.
    let planted: string | undefined;
    const rows = await insertMultiTurnSamples(
      res.db,
      played.map((d, slot) => ({ slot, tools: DIALOGUE_TOOLS, messages: d.messages })),
      {
        campaignId,
        status: "verified",
        labelOverride: (seq, label) => {
          if (planted !== undefined || !label.tool_calls?.length) return label;
          planted = `${seq}`;
          const wrong = label.tool_calls.map((c) => ({ ...c, function: { name: c.function.name, arguments: JSON.stringify({ wrong: "value" }) } }));
          return { ...label, tool_calls: wrong };
        },
      },
    );
    assert.ok(planted !== undefined && rows.length >= 6, `${rows.length} cuts`);
    const stored = new Map(rows.map((r) => [r.id as string, canonicalJson(r.messages)]));
    for (const r of rows) assert.match(JSON.stringify(r.messages[0]), /### task: dialogue-assistant/);
    await insertPoolMembers(
      db,
      rows.map((r) => ({ campaignId, iteration: 1, sampleId: r.id as string, reason: "seed" as const, weight: 1 })),
    );
    const byPrompt = new Map(rows.map((r) => [canonicalJson(policyPromptOf(r.messages)), r]));
    const exported = new Set(
      rows.map((r) => {
        const line = toDatasetLine({ id: r.id as string, kind: "multi_turn", messages: r.messages, tools: r.tools, status: "verified", metadata: {} });
        // Less the training-only `weight: 0` the export puts on earlier assistant turns (a request carries no weights).
        return canonicalJson(line.messages.slice(0, -1).map((m) => Object.fromEntries(Object.entries(m).filter(([k]) => k !== "weight"))));
      }),
    );
    const policyRequests = () => sent.filter((x) => x.role === "policy");
    const assertExportPrompt = (messages: ChatMessage[], what: string) => {
      assert.doesNotMatch(JSON.stringify(messages), /### task/, `${what}: no role-play marker`);
      assert.equal(messages[0]?.content, ASSISTANT_INSTRUCTIONS, `${what}: the assistant's instructions as its system prompt`);
      assert.ok(exported.has(canonicalJson(messages)), `${what}: the prompt export.dataset writes before the label`);
    };

    sent.length = 0;
    const pctx = context<StageConfigOf<"score.perplexity">>(db, config, "score.perplexity");
    await scorePerplexityHandler.finalize!(pctx, await planAndRun(db, pctx, scorePerplexityHandler));
    assert.equal((await listSampleScores(db, { campaignId, iteration: 1 }, "label_ppl")).length, rows.length);
    const scoring = policyRequests().filter((x) => x.req.maxTokens === 1);
    assert.equal(scoring.length, rows.length, "one label-perplexity request per sample");
    for (const x of scoring) {
      const prompt = x.req.messages.slice(0, -1);
      assertExportPrompt(prompt, "score.perplexity");
      const r = byPrompt.get(canonicalJson(prompt))!;
      assert.equal(canonicalJson(x.req.messages.at(-1)), canonicalJson(r.messages.at(-1)), "the label scored after that prompt");
    }
    for (const x of policyRequests().filter((y) => y.req.maxTokens !== 1)) assertExportPrompt(x.req.messages, "own-output perplexity");

    sent.length = 0;
    const cctx = context<StageConfigOf<"score.consistency">>(db, config, "score.consistency");
    await scoreConsistencyHandler.finalize!(cctx, await planAndRun(db, cctx, scoreConsistencyHandler));
    assert.equal((await listSampleScores(db, { campaignId, iteration: 1 }, "consistency")).length, rows.length);
    assert.equal(policyRequests().length, rows.length * 2);
    for (const x of policyRequests()) assertExportPrompt(x.req.messages, "score.consistency");

    sent.length = 0;
    const gctx = context<StageConfigOf<"probe.greedy">>(db, config, "probe.greedy");
    await planAndRun(db, gctx, probeGreedyHandler);
    assert.equal(policyRequests().length, rows.length);
    for (const x of policyRequests()) assertExportPrompt(x.req.messages, "probe.greedy");
    const probes = await probeResultsOf(
      db,
      campaignId,
      1,
      rows.map((r) => r.id as string),
    );
    assert.equal(probes.size, rows.length);
    const mismatched = rows.filter((r) => !probes.get(r.id as string)!.match);
    // The simulated policy, asked without the marker, answers every true label as the dialogue's assistant did.
    assert.deepEqual(
      mismatched.map((r) => (r.metadata as { dialogue: { labelSeq: number } }).dialogue.labelSeq),
      [Number(planted)],
      "only the planted label mismatches",
    );

    sent.length = 0;
    const rctx = context<StageConfigOf<"repair.labels">>(db, config, "repair.labels");
    await planAndRun(db, rctx, repairLabelsHandler);
    const judged = sent.filter((x) => x.role === "judge");
    assert.equal(judged.length, 2, "two votes on the planted mismatch");
    for (const x of judged) {
      const c = parseCaseMessage(x.req.messages.at(-1)!.content ?? "")!;
      assertExportPrompt(c.messages as ChatMessage[], "repair.labels' judge case");
    }

    // The stored samples keep their messages (with the marker) and their ids.
    const after = await db.select().from(samples).where(eq(samples.campaignId, campaignId));
    for (const [id, messages] of stored) {
      const row = after.find((s) => s.id === id);
      assert.ok(row, `sample ${id} still stored under its id`);
      assert.equal(canonicalJson(row.messages), messages);
      assert.equal(sampleId(campaignId, { messages: row.messages, tools: row.tools }), id);
    }
  },
);
