import { z } from "zod";
import { batchSize, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { committeeRolePaths, committeeSchema, SINGLE_JUDGE } from "../../../judging/committeeConfig.js";

/**
 * LoopTool's second verification pass: a judge committee reads each sample that passed the rules and
 * votes CORRECT / INCORRECT (logical consistency with the conversation, relevance to the latest request).
 */
export const verifyJudgesSpec = defineStage({
  name: "verify.judges",
  title: "judge committee verification",
  latency: "llm",
  batchTimeoutMinutes: 30,
  // The committee names its own roles (checked against `roles` through configuredRoles).
  roles: [],
  configuredRoles: (c) => committeeRolePaths(c.committee),
  reads: {
    kind: "samples",
    selection: () => ({ scope: "iteration", statuses: ["verified"] }),
    describe: "the iteration's samples that passed verify.rules (single-turn and multi-turn), fixed into batches at planning",
  },
  writes:
    "sample_check_votes (every vote with its analysis), each sample's judges verdict; INCORRECT by consensus (or no consensus, when configured) -> rejected",
  schema: z.strictObject({
    name: z.literal("verify.judges"),
    runIn,
    /** Samples per batch; a rerun asks only the judges whose vote is missing. */
    batchSize: batchSize(100),
    committee: committeeSchema.default(SINGLE_JUDGE),
    /** What a sample no verdict reached consensus on becomes: kept as verified, or rejected. */
    noConsensus: z.enum(["keep", "reject"], { error: 'expected "keep" or "reject"' }).default("reject"),
  }),
});
