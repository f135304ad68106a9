import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { forEachConcurrently } from "../../../src/util/concurrently.js";

describe("forEachConcurrently", () => {
  it("visits every item once with at most `concurrency` calls in flight", async () => {
    const seen: number[] = [];
    let inFlight = 0;
    let most = 0;
    await forEachConcurrently(
      Array.from({ length: 40 }, (_, i) => i),
      4,
      async (i) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, i % 3));
        seen.push(i);
        inFlight--;
      },
    );
    assert.equal(most, 4);
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      Array.from({ length: 40 }, (_, i) => i),
    );
  });

  it("rejects with the first error and takes no new items after it", async () => {
    const started: number[] = [];
    await assert.rejects(
      forEachConcurrently([0, 1, 2, 3, 4, 5], 2, async (i) => {
        started.push(i);
        await new Promise((r) => setTimeout(r, 1));
        if (i === 1) throw new Error("item 1 failed");
      }),
      /item 1 failed/,
    );
    assert.ok(started.length <= 3, `started ${started.join(",")}: at most the item in flight beside the failed one`);
  });

  it("does nothing for no items and refuses a bad concurrency", async () => {
    await forEachConcurrently([], 3, async () => assert.fail("called"));
    await assert.rejects(
      forEachConcurrently([1], 0, async () => {}),
      /positive integer/,
    );
  });
});
