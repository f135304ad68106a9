import assert from "node:assert/strict";
import { test } from "node:test";
import { LruCache } from "../../../src/verification/lruCache.js";

test("evicts the least recently used entry past capacity and reports it", () => {
  const evicted: string[] = [];
  const cache = new LruCache<string, number>(2, (k) => evicted.push(k));
  cache.set("a", 1);
  cache.set("b", 2);
  assert.equal(cache.get("a"), 1); // "b" is now the oldest
  cache.set("c", 3);
  assert.deepEqual(evicted, ["b"]);
  assert.equal(cache.get("b"), undefined);
  assert.equal(cache.size, 2);
  cache.clear();
  assert.deepEqual(evicted.sort(), ["a", "b", "c"]);
  assert.equal(cache.size, 0);
});

test("rejects a capacity that is not a positive integer", () => {
  assert.throws(() => new LruCache(0), /capacity must be a positive integer \(got 0\)/);
});
