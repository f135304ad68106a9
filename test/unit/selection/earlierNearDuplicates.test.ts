/**
 * The earlier members' queries a selection keeps from its first pass over the earlier pools
 * (EarlierQueryCache): kept in the order read up to a size, then none, with the position the rest
 * starts at; checked with scanQuery, they give the same paraphrase matches as the rows read again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChatMessage } from "../../../src/domain/types.js";
import { EarlierNearDuplicates, EarlierQueryCache, type EarlierQuery } from "../../../src/selection/earlierNearDuplicates.js";
import { userQueryOf } from "../../../src/selection/signature.js";

const member = (id: string, query: string, campaignId = "a", iteration = 1): EarlierQuery => ({ id, query, dialogueId: null, campaignId, iteration });
/** The cache's estimate of one member: its text as UTF-16 plus the per-entry overhead. */
const sizeOf = (m: EarlierQuery) => 2 * (m.id.length + m.query.length) + 96;

test("the cache keeps members in the order read until one does not fit, then none, and says where the rest starts", () => {
  const m = [member("s1", "where is my order"), member("s2", "cancel my order please"), member("s3", "x"), member("s4", "y")];
  const cache = new EarlierQueryCache(sizeOf(m[0]!) + sizeOf(m[1]!) + 10);
  assert.equal(cache.add(m[0]!, 0), true);
  assert.equal(cache.resumeAt, undefined, "everything read so far is kept");
  assert.equal(cache.add(m[1]!, 1), true);
  assert.equal(cache.add(m[2]!, 1), false, "over the size");
  assert.equal(cache.add(m[3]!, 2), false, "none after the first that did not fit, however small");
  assert.deepEqual(
    cache.members.map((x) => x.id),
    ["s1", "s2"],
  );
  assert.deepEqual(cache.resumeAt, { round: 1, afterId: "s2" }, "after the last kept member, in its round");

  const tiny = new EarlierQueryCache(10);
  assert.equal(tiny.add(m[0]!, 0), false);
  assert.deepEqual(tiny.resumeAt, { round: 0 }, "nothing kept: the pass starts over");
});

test("checking seeds against the kept queries finds what scanning the rows finds", () => {
  const rows = [
    { id: "held", messages: [{ role: "user", content: "where is my order from last week please look it up for me now" }] as ChatMessage[], dialogueId: null },
    { id: "other", messages: [{ role: "user", content: "book a table for two at an italian place tonight" }] as ChatMessage[], dialogueId: null },
  ];
  const seeds = [
    { id: "para", messages: [{ role: "user", content: "where is my order from last week please look it up for me now thanks" }] as ChatMessage[] },
    { id: "fresh", messages: [{ role: "user", content: "what is the weather in oslo tomorrow morning" }] as ChatMessage[] },
  ];
  const fromRows = new EarlierNearDuplicates({ threshold: 0.8 });
  fromRows.addCandidates(seeds);
  for (const r of rows) fromRows.scan(r, { campaignId: "a", iteration: 2 });
  const cache = new EarlierQueryCache();
  for (const r of rows) cache.add({ id: r.id, query: userQueryOf(r.messages), dialogueId: r.dialogueId, campaignId: "a", iteration: 2 }, 0);
  const fromCache = new EarlierNearDuplicates({ threshold: 0.8 });
  fromCache.addCandidates(seeds);
  for (const q of cache.members) fromCache.scanQuery(q, q);
  assert.deepEqual([...fromRows.matches.keys()], ["para"]);
  assert.deepEqual(fromCache.matches, fromRows.matches);
  assert.equal(fromCache.matches.get("para")?.sampleId, "held");
});
