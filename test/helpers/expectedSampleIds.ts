/**
 * The sample ids a single-turn synthesis campaign must store, computed without Temporal: every slot
 * synthesized directly with the campaign's own config (its tool library read from the database), as
 * the stage does. The simulator's answers depend only on its seed and the request, so against a
 * simulator with the campaign's seed this is exactly the set a correct run stores, crashes or not.
 */
import type { CampaignConfig } from "../../src/config/campaignConfig.js";
import type { Db } from "../../src/db/client.js";
import { listTools } from "../../src/db/repos/tools.js";
import { UsageAccumulator, createRoleClient } from "../../src/llm/client.js";
import { planSingleTurnKinds, selectToolsForSlot, synthesizeSingleTurn } from "../../src/synthesis/singleTurn.js";
import { sampleId } from "../../src/util/ids.js";

export async function expectedSingleTurnSampleIds(db: Db, config: CampaignConfig, campaignId: string): Promise<Set<string>> {
  const stage = config.stages.find((s) => s.name === "synthesize.singleTurn");
  if (stage?.name !== "synthesize.singleTurn") throw new Error("the campaign has no synthesize.singleTurn stage");
  const library = (await listTools(db, campaignId)).map((r) => r.tool);
  const kinds = planSingleTurnKinds({ count: stage.count, mix: stage.mix, seed: config.seed, iteration: 1 });
  const generator = createRoleClient(config, "generator", { usage: new UsageAccumulator() });
  const expected = new Set<string>();
  for (let slot = 0; slot < stage.count; slot++) {
    const kind = kinds[slot]!;
    const picked = selectToolsForSlot(library, {
      kind,
      seed: config.seed,
      iteration: 1,
      slotIndex: slot,
      toolsPerSample: stage.toolsPerSample,
      maxParallelCalls: stage.maxParallelCalls,
    });
    const s = await synthesizeSingleTurn({ kind, ...picked, generator });
    expected.add(sampleId(campaignId, { messages: s.messages, tools: s.tools }));
  }
  return expected;
}
