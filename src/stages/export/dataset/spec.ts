import { z } from "zod";
import { exportDecontaminate } from "../../../config/bfclFields.js";
import { atMost, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { DATASET_ROW_FORMATS } from "../../../export/rowFormats.js";

export const EXPORTABLE_STATUSES = ["verified", "pending", "rejected"] as const;

export const exportDatasetSpec = defineStage({
  name: "export.dataset",
  title: "dataset export",
  latency: "default",
  batchTimeoutMinutes: 30,
  roles: [],
  reads: {
    kind: "samples",
    // Frozen configs from before `from` existed have none: they read the iteration.
    selection: (c) => ({ scope: (c.from as typeof c.from | undefined) ?? "iteration", statuses: c.include }),
    oneBatch: true,
    describe: "the iteration's samples (`from: iteration`) or its training pool (`from: pool`) in the `include` statuses, fixed at planning",
  },
  writes:
    "dataset.jsonl (OpenAI chat format with tools; `format: openai-strict` for exactly OpenAI's fine-tuning rows) and dataset.manifest.json (with provenance and the samples left out as BFCL test items) per iteration",
  schema: z.strictObject({
    name: z.literal("export.dataset"),
    runIn,
    /** `iteration`: the samples made in this iteration; `pool`: the iteration's training pool (select.nextRound). */
    from: z.enum(["iteration", "pool"], { error: 'expected "iteration" or "pool"' }).default("iteration"),
    /** Samples read per page; one batch writes the whole file. */
    batchSize: positiveInt.max(100_000, atMost(100_000)).default(5000),
    /** Which sample statuses to export. */
    include: z
      .array(z.enum(EXPORTABLE_STATUSES, { error: 'expected "verified", "pending" or "rejected"' }), { error: "expected a list of sample statuses" })
      .min(1, "expected at least one status")
      .max(3, "expected each status at most once")
      .refine((c) => new Set(c).size === c.length, "expected each status at most once")
      .default(["verified"]),
    /**
     * `toolloop`: each row also carries id, kind and metadata (with provenance); `openai-strict`: only
     * `messages` and `tools` with OpenAI's documented fields, for uploaders that reject other keys.
     */
    format: z.enum(DATASET_ROW_FORMATS, { error: 'expected "toolloop" or "openai-strict"' }).default("toolloop"),
    /**
     * Rows of samples synthesized with `completeTrajectory` carry the whole trajectory: the label's
     * calls, the tool messages, any further steps and the final assistant answer. Samples without a
     * finished trajectory are written as they are.
     */
    wholeTrajectories: z.boolean({ error: "expected true or false" }).default(false),
    /**
     * Leaves out samples that ask a BFCL test question (exactly or nearly) or offer a BFCL function's
     * signature, as export.verl does: a dataset taken away to train on must not hold what BFCL scores.
     */
    decontaminate: exportDecontaminate,
  }),
});
