/** The warning of a pool short of its budget (src/selection/poolShortfall.ts), with the figures of a 12-iteration demo loop. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { poolShortfallWarning } from "../../../src/selection/poolShortfall.js";

test("a pool that filled its budget warns of nothing; a first round short of seeds names its source, with no advice about shrinking", () => {
  assert.equal(poolShortfallWarning({ budget: 100, used: 100, sources: { high_ppl: { quota: 35, candidates: 60, selected: 58 } }, exclusions: {} }), undefined);
  assert.equal(poolShortfallWarning({ budget: 0, used: 0, sources: {}, exclusions: {} }), undefined);
  assert.equal(
    poolShortfallWarning({
      budget: 30,
      used: 22,
      sources: { seed: { quota: 30, candidates: 24, selected: 22 } },
      exclusions: { contaminated_query: 1, contaminated_signature: 1 },
    }),
    "the pool filled 22 of its budget 30 (73%); short of their quota: seed 22 of 30 (24 candidates); left out: contaminated_query 1, contaminated_signature 1",
  );
});

test("iteration 12 of a demo loop: 7 of 100 after a pool of 8, the seeds all contaminated; the largest shortfall first and what to change", () => {
  const w = poolShortfallWarning({
    budget: 100,
    used: 7,
    previousPool: 8,
    highPplTopFraction: 0.6,
    sources: {
      expanded: { quota: 20, selected: 2, candidates: 2 },
      high_ppl: { quota: 35, selected: 4, candidates: 5 },
      repaired: { quota: 15, selected: 0, candidates: 0 },
      error_seed: { quota: 10, selected: 1, candidates: 1 },
      unused_seed: { quota: 20, selected: 0, candidates: 46 },
    },
    exclusions: { contaminated_signature: 46 },
  });
  assert.equal(
    w,
    "the pool filled 7 of its budget 100 (7%); the pool before it had 8; short of their quota: high_ppl 4 of 35 (5 candidates), unused_seed 0 of 20 (46 candidates), " +
      "expanded 2 of 20 (2 candidates), repaired 0 of 15 (no candidate), error_seed 1 of 10 (1 candidate); left out: contaminated_signature 46; " +
      'no fresh samples are left, so each round trains on fewer (high_ppl keeps the top 60% of the last pool): synthesize seeds in later iterations (a synthesize stage without runIn "first"), raise highPpl.topFraction or lower the budget',
  );
});

test("a pool short of its budget but larger than the last one (still filling up) gets no shrinking advice", () => {
  const w = poolShortfallWarning({
    budget: 100,
    used: 90,
    previousPool: 80,
    sources: { unused_seed: { quota: 20, candidates: 10, selected: 10 } },
    exclusions: {},
  });
  assert.equal(w, "the pool filled 90 of its budget 100 (90%); the pool before it had 80; short of their quota: unused_seed 10 of 20 (10 candidates)");
});
