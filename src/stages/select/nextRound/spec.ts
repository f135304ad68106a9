import { z } from "zod";
import { bfclCategoryList, nearDuplicateThreshold, shingleSize } from "../../../config/bfclFields.js";
import { BFCL_FAST_CATEGORIES } from "../../../bfcl/categoryNames.js";
import { atMost, batchSize, fraction, onceFieldsValid, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";

/** Most samples one pool may hold. */
const MAX_BUDGET = 1_000_000;
const budget = positiveInt.max(MAX_BUDGET, atMost(MAX_BUDGET, " samples per pool"));
const share = z.number({ error: "expected a non-negative number" }).min(0, "expected a non-negative number").max(1000, atMost(1000));
const weight = z.number({ error: "expected a positive number" }).positive("expected a positive number").max(100, atMost(100));

const DEFAULT_MIX = { high_ppl: 0.4, repaired: 0.2, error_seed: 0.1, expanded: 0.2, unused_seed: 0.1 };

export const selectNextRoundSpec = defineStage({
  name: "select.nextRound",
  title: "next-round pool selection",
  latency: "default",
  batchTimeoutMinutes: 30,
  roles: [],
  makes: () => ["pool"],
  reads: {
    kind: "external",
    describe:
      "iteration 1: the seed samples; later: the previous pool's label_ppl and consistency scores, its judgements (repaired, error_seed), the error seeds' expansions and the unused seeds; the BFCL test data",
  },
  writes:
    "pool_members of the iteration (seed, high_ppl, repaired, error_seed, expanded, unused_seed) and selection_exclusions with each reason, replaced together",
  schema: z.strictObject({
    name: z.literal("select.nextRound"),
    runIn,
    /** Read page size while loading candidates; the selection itself is one batch. */
    batchSize: batchSize(1000, 10_000),
    /** Pool size of iterations after the first. */
    budget: budget.default(2000),
    /** Pool size of the first iteration (seed samples). */
    seedBudget: budget.default(2000),
    /** Relative shares of the sources in later pools; normalised, at least one must be > 0. */
    mix: z
      .strictObject({
        high_ppl: share.default(DEFAULT_MIX.high_ppl),
        repaired: share.default(DEFAULT_MIX.repaired),
        error_seed: share.default(DEFAULT_MIX.error_seed),
        expanded: share.default(DEFAULT_MIX.expanded),
        unused_seed: share.default(DEFAULT_MIX.unused_seed),
      })
      .default(DEFAULT_MIX)
      .refine((m) => m.high_ppl + m.repaired + m.error_seed + m.expanded + m.unused_seed > 0, {
        message: "expected at least one share above 0",
        ...onceFieldsValid,
      }),
    highPpl: z
      .strictObject({
        /** The share of the previous pool's scored samples, highest label PPL first, that are high_ppl candidates. */
        topFraction: fraction.refine((f) => f > 0, "expected a number above 0").default(0.5),
      })
      .default({ topFraction: 0.5 }),
    /** Weight of a member the previous round's consistency scoring classed hard. */
    hardWeight: weight.default(2),
    /** Weight of one classed easy (medium and unscored members weigh 1). */
    easyWeight: weight.default(1),
    nearDuplicate: z
      .strictObject({
        /** Word-shingle Jaccard of user queries at or above which two samples (or a sample and a BFCL query) are near duplicates. */
        threshold: nearDuplicateThreshold,
        /** Words per shingle. */
        shingleSize,
      })
      .default({ threshold: 0.8, shingleSize: 3 }),
    decontaminate: z
      .strictObject({
        enabled: z.boolean({ error: "expected true or false" }).default(true),
        /** BFCL categories whose user queries and function signatures must not appear in a pool. */
        categories: bfclCategoryList("expected one of"),
      })
      .default({ enabled: true, categories: [...BFCL_FAST_CATEGORIES] }),
  }),
});
