import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_WORKER_HEAP_GROWING_PERCENT, heapGrowthDecision } from "../../../src/util/heapGrowth.js";

describe("heapGrowthDecision", () => {
  it("sets the worker's default growth when nobody chose one", () => {
    assert.deepEqual(heapGrowthDecision([], {}), {
      apply: true,
      percent: DEFAULT_WORKER_HEAP_GROWING_PERCENT,
      flag: `--heap-growing-percent=${DEFAULT_WORKER_HEAP_GROWING_PERCENT}`,
    });
    assert.deepEqual(heapGrowthDecision(["--enable-source-maps"], { NODE_OPTIONS: "--max-old-space-size=4096" }), {
      apply: true,
      percent: 100,
      flag: "--heap-growing-percent=100",
    });
  });

  it("leaves an operator's own V8 setting alone, in either spelling", () => {
    const kept = { apply: false, reason: "set by the operator's node --heap-growing-percent" };
    assert.deepEqual(heapGrowthDecision(["--heap-growing-percent=50"], { TOOLLOOP_WORKER_HEAP_GROWING_PERCENT: "300" }), kept);
    assert.deepEqual(heapGrowthDecision(["--max-old-space-size=4096", "--heap_growing_percent=20"], {}), kept);
    // A flag that only starts the same way is someone else's.
    assert.equal(heapGrowthDecision(["--heap-growing-percentage-x=1"], {}).apply, true);
  });

  it("takes the percentage from TOOLLOOP_WORKER_HEAP_GROWING_PERCENT; 0 is V8's own choice", () => {
    assert.deepEqual(heapGrowthDecision([], { TOOLLOOP_WORKER_HEAP_GROWING_PERCENT: " 250 " }), {
      apply: true,
      percent: 250,
      flag: "--heap-growing-percent=250",
    });
    assert.deepEqual(heapGrowthDecision([], { TOOLLOOP_WORKER_HEAP_GROWING_PERCENT: "0" }), { apply: false, reason: "V8's own choice (0)" });
    assert.equal(heapGrowthDecision([], { TOOLLOOP_WORKER_HEAP_GROWING_PERCENT: "" }).apply, true);
  });

  it("refuses a value that is not a whole number from 0 to 1000, naming the variable", () => {
    for (const bad of ["-5", "1.5", "lots", "1001", "1e3"]) {
      assert.throws(
        () => heapGrowthDecision([], { TOOLLOOP_WORKER_HEAP_GROWING_PERCENT: bad }),
        (err: Error) =>
          err.message.startsWith("TOOLLOOP_WORKER_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000") && err.message.includes(JSON.stringify(bad)),
      );
    }
  });
});
