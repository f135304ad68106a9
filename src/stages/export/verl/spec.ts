import { z } from "zod";
import { exportDecontaminate } from "../../../config/bfclFields.js";
import { atMost, nonNegativeInt, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { TOOLS_IN_PROMPT } from "../../../training/verl/rows.js";
import { EXPORTABLE_STATUSES } from "../dataset/spec.js";

export const exportVerlSpec = defineStage({
  name: "export.verl",
  title: "verl dataset export",
  latency: "default",
  batchTimeoutMinutes: 30,
  roles: [],
  makes: (c) => (c.sft ? ["verlDataset", "sftDataset"] : ["verlDataset"]),
  reads: {
    kind: "samples",
    // Frozen configs from before `from` existed have none: they read the iteration.
    selection: (c) => ({ scope: (c.from as typeof c.from | undefined) ?? "iteration", statuses: c.include }),
    oneBatch: true,
    describe: "the iteration's samples (`from: iteration`) or its training pool (`from: pool`) in the `include` statuses, fixed at planning",
  },
  writes:
    "<output>/verl/: train.parquet, val.parquet, sample_ids.txt, sft.jsonl (with sft), manifest.json (with the samples left out as BFCL test items); a training_datasets row",
  schema: z.strictObject({
    name: z.literal("export.verl"),
    runIn,
    /** `iteration`: the samples made in this iteration; `pool`: the iteration's training pool (select.nextRound). */
    from: z.enum(["iteration", "pool"], { error: 'expected "iteration" or "pool"' }).default("iteration"),
    /** Samples read per page; one batch writes the whole dataset. */
    batchSize: positiveInt.max(100_000, atMost(100_000)).default(5000),
    /** Share of samples held out as verl's validation set: approximate, each sample by a fixed hash of its key (split.ts). */
    valFraction: z
      .number({ error: "expected a number in [0, 1)" })
      .min(0, "expected a number in [0, 1)")
      .lt(1, "expected a number in [0, 1) (some samples must be left to train on)")
      .default(0.05),
    /** Recorded in the manifest (the campaign's seed when absent); the split does not use it: a sample's side is a fixed hash of its key (split.ts). */
    seed: nonNegativeInt.max(Number.MAX_SAFE_INTEGER, atMost(Number.MAX_SAFE_INTEGER)).optional(),
    /** Also write the SFT set (chat JSONL of the train split, label turn included) for a supervised warm-up. */
    sft: z.boolean({ error: "expected true or false" }).default(false),
    /**
     * Where the policy sees its tools: "hermesSystem" (default) writes the prompt as Qwen2.5's chat
     * template renders it with tools= when vLLM serves the model (its tools block in the system turn),
     * since verl's RL dataset passes no per-row tools to the chat template; "none" for a custom
     * dataset class that reads extra_info.tools.
     */
    toolsInPrompt: z.enum(TOOLS_IN_PROMPT, { error: 'expected "hermesSystem" or "none"' }).default("hermesSystem"),
    /** Which sample statuses to export. */
    include: z
      .array(z.enum(EXPORTABLE_STATUSES, { error: 'expected "verified", "pending" or "rejected"' }), { error: "expected a list of sample statuses" })
      .min(1, "expected at least one status")
      .max(3, "expected each status at most once")
      .refine((c) => new Set(c).size === c.length, "expected each status at most once")
      .default(["verified"]),
    /**
     * Leaves out samples that ask a BFCL test question (exactly or nearly) or offer a BFCL function's
     * signature, as select.nextRound does for a pool: a policy trained on them would be scored on its
     * own training data. `from: iteration` reads samples no selection checked.
     */
    decontaminate: exportDecontaminate,
  }),
});
