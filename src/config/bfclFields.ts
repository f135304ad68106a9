/**
 * Config fields naming BFCL test data, shared by the stages that read it (evaluate.bfclFast) or keep
 * it out of training data (select.nextRound, export.verl), so each refuses the same names the same way.
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
