import assert from "node:assert/strict";
import { test } from "node:test";
import { newConfigVersionRefusal } from "../../../src/config/configVersion.js";

test("a new config version is refused when no iteration would run under it", () => {
  const base = { campaignId: "c1", currentVersion: 1 };
  assert.equal(newConfigVersionRefusal({ ...base, lastCompletedIteration: 0, newIterations: 1 }), undefined, "nothing completed: applies from iteration 1");
  assert.equal(newConfigVersionRefusal({ ...base, lastCompletedIteration: 1, newIterations: 3 }), undefined, "iterations 2 and 3 left");
  assert.equal(newConfigVersionRefusal({ ...base, lastCompletedIteration: 2, newIterations: 3 }), undefined, "the last iteration left");
  assert.equal(
    newConfigVersionRefusal({ ...base, lastCompletedIteration: 3, newIterations: 3 }),
    "campaign c1 has completed 3 iterations: config version 2 would apply from iteration 4, past its iterations (3), so nothing would run under it; raise iterations above 3 to continue the campaign, or start the config under another campaign id",
  );
  assert.match(newConfigVersionRefusal({ ...base, lastCompletedIteration: 1, newIterations: 1 }) ?? "", /has completed 1 iteration: /);
});
