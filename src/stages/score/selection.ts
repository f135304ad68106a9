/** The selection fields both scoring stages share: which samples (the pool, or the iteration's) in which statuses. */
import { z } from "zod";
import { SAMPLE_STATUSES } from "../../domain/types.js";

export const scoringFrom = z.enum(["pool", "iteration"], { error: 'expected "pool" or "iteration"' }).default("pool");

export const scoringStatuses = z
  .array(z.enum(SAMPLE_STATUSES, { error: `expected one of ${SAMPLE_STATUSES.map((s) => `"${s}"`).join(", ")}` }), {
    error: "expected a list of sample statuses",
  })
  .min(1, "expected at least one status")
  .refine((l) => new Set(l).size === l.length, "expected each status at most once")
  .default(["verified"]);
