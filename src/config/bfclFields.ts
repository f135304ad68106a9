/**
 * Config fields naming BFCL test data, shared by the stages that read it (evaluate.bfclFast) or keep
 * it out of training data (select.nextRound, export.verl, export.dataset), so each refuses the same names the same way.
 */
import { z } from "zod";
import { BFCL_FAST_CATEGORIES } from "../bfcl/categoryNames.js";
import { atMost, fraction, positiveInt, preview } from "./fields.js";

/** A list of non-multi-turn BFCL categories, each at most once; all of them by default. `usedFor` ends the message naming the valid ones. */
export function bfclCategoryList(usedFor: string) {
  return z
    .array(
      z.string().refine((c) => BFCL_FAST_CATEGORIES.includes(c as (typeof BFCL_FAST_CATEGORIES)[number]), {
        error: (i) => `unknown or multi-turn BFCL category ${preview(i.input)}; ${usedFor}: ${BFCL_FAST_CATEGORIES.join(", ")}`,
      }),
    )
    .min(1, "expected at least one category")
    .refine((c) => new Set(c).size === c.length, "expected each category at most once")
    .default([...BFCL_FAST_CATEGORIES]);
}

/** Word-shingle Jaccard of user queries at or above which two queries count as near duplicates. */
export const nearDuplicateThreshold = fraction.refine((f) => f >= 0.3, "expected a number between 0.3 and 1").default(0.8);
/** Words per shingle. */
export const shingleSize = positiveInt.max(8, atMost(8)).default(3);

/**
 * An export's `decontaminate` (export.verl, export.dataset): leave out the samples that ask a BFCL
 * test question (exactly or nearly) or offer a BFCL function's signature, as select.nextRound does
 * for a pool. Configs frozen before an export had it carry none, and export as they did.
 */
export const exportDecontaminate = z
  .strictObject({
    enabled: z.boolean({ error: "expected true or false" }).default(true),
    categories: bfclCategoryList("expected one of"),
    /** Word-shingle Jaccard of user queries at or above which a sample's query counts as a BFCL query. */
    threshold: nearDuplicateThreshold,
    /** Words per shingle. */
    shingleSize,
  })
  .default({ enabled: true, categories: [...BFCL_FAST_CATEGORIES], threshold: 0.8, shingleSize: 3 });
