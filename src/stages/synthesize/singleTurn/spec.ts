import { z } from "zod";
import { atMost, batchSize, CONFIG_LIMITS, fraction, onceFieldsValid, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";

export const synthesizeSingleTurnSpec = defineStage({
  name: "synthesize.singleTurn",
  title: "single-turn synthesis",
  latency: "llm",
  batchTimeoutMinutes: 60,
  roles: ["generator"],
  makes: () => ["samples"],
  // Completing trajectories executes the label's calls through the MCP server simulator (the toolServer role).
  configuredRoles: (c) =>
    (c.completeTrajectory as typeof c.completeTrajectory | undefined)?.enabled ? [{ role: "toolServer", path: ["completeTrajectory", "enabled"] }] : [],
  reads: { kind: "slots", items: (c) => c.count, describe: "count numbered slots of the iteration; tools from the campaign's library" },
  writes:
    "samples (origin synthesized, one per slot; with completeTrajectory, metadata.trajectory: tool results and the final answer) or a slot outcome (model failed, duplicate content); LLM requests",
  schema: z.strictObject({
    name: z.literal("synthesize.singleTurn"),
    runIn,
    // Large enough that a campaign costs at most ~20 Temporal history events per 1,000 samples (bench/synthesisThroughput.ts):
    // each batch is a few events whatever its size, and a batch alone can fill the endpoint (its slots are durable, so a
    // retried batch redoes nothing).
    batchSize: batchSize(1000),
    /** Samples to synthesize per iteration. */
    count: positiveInt.max(CONFIG_LIMITS.count, atMost(CONFIG_LIMITS.count, " samples per iteration")),
    /** Relative proportions of the three single-turn kinds; normalised, at least one must be > 0. */
    mix: z
      .strictObject({ standard: fraction.default(0.6), parallel: fraction.default(0.25), irrelevance: fraction.default(0.15) })
      .default({ standard: 0.6, parallel: 0.25, irrelevance: 0.15 })
      .refine((m) => m.standard + m.parallel + m.irrelevance > 0, { message: "expected at least one proportion above 0", ...onceFieldsValid }),
    /** Tools offered per sample (the target tools plus distractors). */
    toolsPerSample: positiveInt.max(32, atMost(32)).default(4),
    maxParallelCalls: positiveInt.max(8, atMost(8)).default(3),
    /**
     * Whole trajectories: after the label (tool calls), execute the calls through the tool server
     * (the toolServer role) and ask the generator for the next step until it answers in text, at
     * most `maxRounds` steps; stored in metadata.trajectory, the sample's messages unchanged.
     */
    completeTrajectory: z
      .strictObject({ enabled: z.boolean({ error: "expected true or false" }).default(false), maxRounds: positiveInt.max(16, atMost(16)).default(4) })
      .default({ enabled: false, maxRounds: 4 }),
  }),
});
