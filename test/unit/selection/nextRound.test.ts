/**
 * The next-round selection on in-memory rows: quotas by the mix, determinism by seed, shortfall
 * redistribution in the stated order, retired labels, weights, exact and near-duplicate removal and
 * decontamination against the real BFCL data.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { readBfclCategorySync } from "../../../src/bfcl/data.js";
import type { ChatMessage, McpTool, ToolCall } from "../../../src/domain/types.js";
import { buildContaminationIndex } from "../../../src/selection/contamination.js";
import {
  EarlierPoolIndex,
  quotas,
  rankCandidates,
  topCount,
  rankIds,
  selectNextRound,
  type Candidate,
  type SelectionInput,
  type SelectionResult,
  type SelectionSource,
} from "../../../src/selection/nextRound.js";
import { EarlierNearDuplicates } from "../../../src/selection/earlierNearDuplicates.js";
import { bfclUserQuery } from "../../../src/selection/signature.js";
import { SeededRandom } from "../../../src/util/random.js";

const TOOL: McpTool = { name: "lookup_order", description: "Look up an order", inputSchema: { type: "object", properties: { order_id: { type: "string" } } } };
const VOCAB = Array.from({ length: 400 }, (_, i) => `word${i.toString(36)}`);
const rng = new SeededRandom(11);

let callNo = 0;
function candidate(id: string, extra: Partial<Candidate> = {}, query?: string): Candidate {
  const q = query ?? Array.from({ length: 12 }, () => rng.pick(VOCAB)).join(" ");
  const call: ToolCall = { id: `c${callNo++}`, type: "function", function: { name: "lookup_order", arguments: JSON.stringify({ order_id: id }) } };
  const messages: ChatMessage[] = [
    { role: "user", content: q },
    { role: "assistant", content: null, tool_calls: [call] },
  ];
  return { id, messages, tools: [TOOL], ...extra };
}

const many = (prefix: string, n: number, extra: (i: number) => Partial<Candidate> = () => ({})) =>
  Array.from({ length: n }, (_, i) => candidate(`${prefix}${String(i).padStart(4, "0")}`, extra(i)));

const MIX = { high_ppl: 0.4, repaired: 0.2, error_seed: 0.1, expanded: 0.2, unused_seed: 0.1 };
const base = (sources: SelectionInput["sources"], over: Partial<SelectionInput> = {}): SelectionInput => ({
  iteration: 2,
  seed: 42,
  budget: 100,
  mix: MIX,
  sources,
  highPplTopFraction: 1,
  weights: { hard: 2, easy: 0.5 },
  nearDuplicate: { threshold: 0.8 },
  ...over,
});

const plenty = () => ({
  high_ppl: { candidates: many("h", 200, (i) => ({ labelPpl: 1 + i / 10 })) },
  repaired: { candidates: many("r", 60) },
  error_seed: { candidates: many("e", 60) },
  expanded: { candidates: many("x", 60) },
  unused_seed: { candidates: many("u", 500) },
});

const composition = (r: SelectionResult) => {
  const out: Partial<Record<SelectionSource, number>> = {};
  for (const m of r.members) out[m.reason] = (out[m.reason] ?? 0) + 1;
  return out;
};
const exclusionsBy = (r: SelectionResult, reason: string) => r.exclusions.filter((e) => e.reason === reason);

test("quotas: the budget split by shares with the largest remainder, summing to the budget", () => {
  assert.deepEqual(quotas(100, MIX), { repaired: 20, error_seed: 10, expanded: 20, high_ppl: 40, unused_seed: 10 });
  const q = quotas(7, MIX);
  assert.equal(
    Object.values(q).reduce((a, b) => a + b, 0),
    7,
  );
  assert.deepEqual(q, { repaired: 1, error_seed: 1, expanded: 1, high_ppl: 3, unused_seed: 1 }, "ties of the remainder go by priority");
  assert.deepEqual(quotas(10, { high_ppl: 3, unused_seed: 1, repaired: 0 }), { high_ppl: 8, unused_seed: 2 }, "shares need not sum to 1; 0 gets nothing");
});

test("with enough candidates the pool follows the mix exactly, high_ppl takes the highest PPL first", () => {
  const r = selectNextRound(base(plenty()));
  assert.deepEqual(composition(r), { repaired: 20, error_seed: 10, expanded: 20, high_ppl: 40, unused_seed: 10 });
  assert.equal(r.members.length, 100);
  const ppl = r.members.filter((m) => m.reason === "high_ppl").map((m) => m.details.labelPpl as number);
  assert.equal(Math.min(...ppl), 1 + 160 / 10, "the 40 highest of 200 PPLs");
  // Over-budget candidates of judged sources are recorded; unused seeds not taken stay unused.
  assert.equal(exclusionsBy(r, "over_budget").length, 160 + 40 + 50 + 40);
  assert.ok(r.exclusions.every((e) => e.details.source !== "unused_seed"));
  assert.deepEqual(r.sources.repaired, { candidates: 60, quota: 20, selected: 20, redistributed: 0 });
});

test("first round: a seed is a member, an exclusion, or not reached (recorded nowhere, still an unused seed); the docs say exactly that", () => {
  const seeds = many("s", 320);
  // 40 seeds duplicate 40 others: of a pair the walk reaches, the second is excluded.
  for (let i = 0; i < 40; i++) seeds[280 + i] = { ...seeds[i]!, id: `s-dup${i}` };
  const r = selectNextRound(base({ seed: { candidates: seeds } }, { iteration: 1, budget: 150, mix: { seed: 1 } }));
  assert.equal(r.members.length, 150);
  assert.ok(r.exclusions.length > 0, "some seeds were left out");
  assert.ok(
    r.exclusions.every((e) => e.reason !== "over_budget"),
    "no seed is over_budget",
  );
  const decided = new Set([...r.members.map((m) => m.sampleId), ...r.exclusions.map((e) => e.sampleId)]);
  const unreached = seeds.filter((c) => !decided.has(c.id)).length;
  assert.ok(unreached > 0);
  assert.equal(r.sources.seed?.candidates, r.members.length + r.exclusions.length + unreached, "candidates = pool + exclusions + seeds not reached");

  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
  for (const doc of ["README.md", "docs/stages/select.nextRound.md"]) {
    const text = fs.readFileSync(path.join(root, doc), "utf8");
    assert.doesNotMatch(text, /every candidate left out/, `${doc} does not claim every candidate is recorded`);
    assert.match(text, /never reached .* are (not recorded|in neither)/, `${doc} says the seeds never reached are not recorded`);
  }
});

test("the top fraction limits high_ppl candidates; its shortfall goes to the first source with candidates left", () => {
  const r = selectNextRound(base(plenty(), { highPplTopFraction: 0.1 }));
  assert.equal(r.sources.high_ppl?.candidates, 20);
  assert.deepEqual(composition(r), { repaired: 40, error_seed: 10, expanded: 20, high_ppl: 20, unused_seed: 10 });
  assert.equal(r.sources.repaired?.redistributed, 20);
  assert.equal(r.members.filter((m) => m.details.redistributed === true).length, 20);
});

test("shortfall redistribution follows the priority order and skips sources without a share", () => {
  const sources = {
    high_ppl: { candidates: many("h", 50, (i) => ({ labelPpl: 2 + i })) },
    repaired: { candidates: many("r", 3) },
    error_seed: { candidates: many("e", 12) },
    expanded: { candidates: many("x", 5) },
    unused_seed: { candidates: many("u", 500) },
  };
  // Quotas 20/10/20/40/10: repaired short by 17, expanded by 15 -> 32 spare: error_seed takes its 2
  // left, high_ppl its 10 left, unused_seed the remaining 20.
  const r = selectNextRound(base(sources));
  assert.deepEqual(composition(r), { repaired: 3, error_seed: 12, expanded: 5, high_ppl: 50, unused_seed: 30 });
  assert.equal(r.members.length, 100);
  assert.deepEqual([r.sources.error_seed?.redistributed, r.sources.high_ppl?.redistributed, r.sources.unused_seed?.redistributed], [2, 10, 20]);
  // With no share for unused seeds, the room stays empty instead.
  const r2 = selectNextRound(base(sources, { mix: { ...MIX, unused_seed: 0 } }));
  assert.equal(composition(r2).unused_seed, undefined);
  assert.equal(r2.members.length, 70, "the budget is not filled from a source the mix leaves out");
});

test("deterministic by seed and iteration; input order does not matter", () => {
  const srcs = plenty();
  const a = selectNextRound(base(srcs));
  const shuffled = Object.fromEntries(Object.entries(srcs).map(([k, v]) => [k, { candidates: new SeededRandom(3).shuffle(v.candidates) }]));
  const b = selectNextRound(base(shuffled));
  assert.deepEqual(b, a);
  const ids = (r: SelectionResult, s: SelectionSource) => r.members.filter((m) => m.reason === s).map((m) => m.sampleId);
  const otherSeed = selectNextRound(base(srcs, { seed: 43 }));
  const otherIteration = selectNextRound(base(srcs, { iteration: 3 }));
  assert.notDeepEqual(ids(otherSeed, "unused_seed"), ids(a, "unused_seed"), "another config seed draws other unused seeds");
  assert.notDeepEqual(ids(otherIteration, "unused_seed"), ids(a, "unused_seed"), "another iteration draws other unused seeds");
  assert.deepEqual(ids(otherSeed, "high_ppl"), ids(a, "high_ppl"), "high_ppl is ranked by PPL, not by the seed");
  // rankIds is the same order the selection walks, so a caller may load just a prefix.
  const order = rankIds(
    srcs.unused_seed.candidates.map((c) => c.id),
    42,
    2,
    "unused_seed",
  );
  assert.deepEqual(
    rankCandidates("unused_seed", srcs.unused_seed.candidates, { seed: 42, iteration: 2 }).map((c) => c.id),
    order,
  );
  assert.deepEqual(ids(a, "unused_seed"), order.slice(0, 10));
});

test("a truncated source walked to its end asks for more instead of passing as empty", () => {
  const all = many("u", 40);
  const order = rankIds(
    all.map((c) => c.id),
    42,
    2,
    "unused_seed",
  );
  const prefix = order.slice(0, 5).map((id) => all.find((c) => c.id === id)!);
  const r = selectNextRound(base({ unused_seed: { candidates: prefix, truncated: true } }, { budget: 10 }));
  assert.equal(r.needsMore, "unused_seed");
  const full = selectNextRound(base({ unused_seed: { candidates: all } }, { budget: 10 }));
  assert.equal(full.needsMore, undefined);
  assert.deepEqual(
    full.members.map((m) => m.sampleId),
    order.slice(0, 10),
  );
});

test("the seed round: up to the seed budget, reason seed, the rest left unrecorded", () => {
  const r = selectNextRound(base({ seed: { candidates: many("s", 30) } }, { iteration: 1, budget: 12, mix: { seed: 1 } }));
  assert.equal(r.members.length, 12);
  assert.ok(r.members.every((m) => m.reason === "seed" && m.weight === 1));
  assert.deepEqual(r.exclusions, []);
  const small = selectNextRound(base({ seed: { candidates: many("s", 5) } }, { iteration: 1, budget: 12, mix: { seed: 1 } }));
  assert.equal(small.members.length, 5);
});

test("weights from the previous round's consistency class: hard, easy, else 1", () => {
  const classes = ["hard", "easy", "medium", undefined] as const;
  const r = selectNextRound(
    base({ error_seed: { candidates: many("e", 4, (i) => (classes[i] ? { consistencyClass: classes[i] } : {})) } }, { budget: 4, mix: { error_seed: 1 } }),
  );
  const w = Object.fromEntries(r.members.map((m) => [m.sampleId, m.weight]));
  assert.deepEqual(w, { e0000: 2, e0001: 0.5, e0002: 1, e0003: 1 });
  assert.equal(r.members.find((m) => m.sampleId === "e0000")?.details.consistency, "hard");
});

test("retired labels never come back, whichever source offers them", () => {
  const hp = many("h", 10, (i) => ({ labelPpl: 10 - i }));
  const retired = new Map([
    ["h0000", { action: "dropped", iteration: 1 }],
    ["h0001", { action: "kept_prediction", iteration: 1, resultSampleId: "p1" }],
  ]);
  const r = selectNextRound(
    base({ high_ppl: { candidates: hp }, error_seed: { candidates: [hp[0]!] } }, { budget: 5, mix: { high_ppl: 1, error_seed: 1 }, retired }),
  );
  assert.ok(!r.members.some((m) => retired.has(m.sampleId)));
  assert.deepEqual(
    exclusionsBy(r, "label_retired").map((e) => [e.sampleId, e.details.action, e.details.source]),
    [
      ["h0000", "dropped", "error_seed"],
      ["h0001", "kept_prediction", "high_ppl"],
    ],
  );
});

test("exact duplicates: the first by source priority is kept, the other excluded with the kept id", () => {
  const seedCopy = candidate("e0000");
  const hpCopy: Candidate = { ...seedCopy, id: "h0000", labelPpl: 99, messages: structuredClone(seedCopy.messages) };
  // The copy's user text differs only in case and spacing: the exact key normalises both.
  hpCopy.messages[0] = { role: "user", content: `  ${(seedCopy.messages[0] as { content: string }).content.toUpperCase()}` };
  const r = selectNextRound(base({ high_ppl: { candidates: [hpCopy, ...many("h", 5, () => ({ labelPpl: 1 }))] }, error_seed: { candidates: [seedCopy] } }));
  assert.ok(r.members.some((m) => m.sampleId === "e0000" && m.reason === "error_seed"));
  assert.deepEqual(
    exclusionsBy(r, "duplicate").map((e) => [e.sampleId, e.details.keptSampleId, e.details.source]),
    [["h0000", "e0000", "high_ppl"]],
  );
});

test("near-duplicate user queries: excluded with the kept id and the similarity", () => {
  const words = Array.from({ length: 30 }, (_, i) => VOCAB[i * 7]!);
  const a = candidate("r0000", {}, words.join(" "));
  const b = candidate("x0000", {}, [...words.slice(0, 29), "different"].join(" "));
  const far = candidate("x0001", {}, [...words.slice(0, 10), "different", ...words.slice(11, 20)].join(" "));
  const r = selectNextRound(base({ repaired: { candidates: [a] }, expanded: { candidates: [b, far] } }));
  const near = exclusionsBy(r, "near_duplicate");
  assert.deepEqual(
    near.map((e) => [e.sampleId, e.details.keptSampleId]),
    [["x0000", "r0000"]],
  );
  assert.ok((near[0]!.details.similarity as number) >= 0.8);
  assert.ok(
    r.members.some((m) => m.sampleId === "x0001"),
    "a query sharing a third of its words is kept",
  );
  const strict = selectNextRound(base({ repaired: { candidates: [a] }, expanded: { candidates: [b, far] } }, { nearDuplicate: { threshold: 0.99 } }));
  assert.equal(exclusionsBy(strict, "near_duplicate").length, 0);
});

test("decontamination removes a planted copy of a BFCL query and a tool with an identical BFCL signature", () => {
  const entries = ["simple", "multiple"].flatMap((c) => readBfclCategorySync(c));
  const contamination = buildContaminationIndex(entries, { threshold: 0.8 });
  const entry = entries.find((e) => e.id === "multiple_3")!;
  const copied = candidate("u_copy", {}, bfclUserQuery(entry.question));
  const fn = entries.find((e) => e.id === "simple_0")!.function[0]!;
  const bfclTool: McpTool = {
    name: fn.name,
    description: "same signature, other words",
    inputSchema: { type: "object", properties: { base: { type: "integer" }, height: { type: "integer" }, unit: { type: "string" } } },
  };
  const withTool = { ...candidate("u_tool"), tools: [TOOL, bfclTool] };
  const clean = many("u", 20);
  const r = selectNextRound(base({ unused_seed: { candidates: [copied, withTool, ...clean] } }, { budget: 30, mix: { unused_seed: 1 }, contamination }));
  assert.deepEqual(r.exclusions.map((e) => [e.sampleId, e.reason, e.details.bfclId]).sort(), [
    ["u_copy", "contaminated_query", "multiple_3"],
    ["u_tool", "contaminated_signature", "simple_0"],
  ]);
  assert.equal(r.members.length, 20, "every clean sample is kept");
  assert.ok(!r.members.some((m) => m.sampleId.startsWith("u_")));
});

test("the top fraction is rounded up, without a candidate more where floating point overshoots a whole number", () => {
  assert.equal(100 * 0.07, 7.000000000000001, "the overshoot this guards against");
  assert.equal(topCount(100, 0.07), 7);
  assert.deepEqual([topCount(40, 0.6), topCount(58, 0.6), topCount(3, 0.5), topCount(1, 0.01), topCount(0, 0.5), topCount(7, 1)], [24, 35, 2, 1, 0, 7]);
  const scored = many("h", 100, (i) => ({ labelPpl: 1 + i }));
  const top = rankCandidates("high_ppl", scored, { seed: 1, iteration: 2, highPplTopFraction: 0.07 });
  assert.deepEqual(
    top.map((c) => c.labelPpl),
    [100, 99, 98, 97, 96, 95, 94],
    "the 7 highest label PPLs of 100, not 8",
  );
});

test("earlier pools: a copy under another id is excluded and the room goes to the next candidate; the member itself carries over; the index ignores feed order", () => {
  const held = candidate("held", {}, "where is my order please look it up for me now thanks");
  const copy = { ...candidate("copy"), messages: held.messages };
  const fresh = candidate("fresh");
  const other = { ...candidate("other"), messages: held.messages };
  const pools = [
    [held, { campaignId: "c", iteration: 2 }],
    [other, { campaignId: "c", iteration: 1 }],
  ] as const;
  const forward = new EarlierPoolIndex();
  const backward = new EarlierPoolIndex();
  for (const [s, p] of pools) forward.add(s, p);
  for (const [s, p] of [...pools].reverse()) backward.add(s, p);
  assert.deepEqual([...forward.byKey], [...backward.byKey]);
  assert.deepEqual([...forward.byKey.values()], [{ sampleId: "other", campaignId: "c", iteration: 1 }], "the first pool that held the key");

  const index = new EarlierPoolIndex();
  index.add(held, { campaignId: "c", iteration: 1 });
  const r = selectNextRound(
    base(
      { expanded: { candidates: [copy] }, unused_seed: { candidates: [fresh] } },
      { budget: 2, mix: { expanded: 1, unused_seed: 1 }, earlierPools: index.byKey },
    ),
  );
  assert.deepEqual(
    r.members.map((m) => [m.sampleId, m.reason]),
    [["fresh", "unused_seed"]],
    "the copy leaves its place to the fresh seed",
  );
  assert.deepEqual(r.exclusions, [
    {
      sampleId: "copy",
      reason: "earlier_pool_duplicate",
      details: { source: "expanded", earlierSampleId: "held", earlierCampaignId: "c", earlierIteration: 1 },
    },
  ]);
  const carried = selectNextRound(
    base(
      { expanded: { candidates: [copy] }, high_ppl: { candidates: [{ ...held, labelPpl: 5 }] } },
      { budget: 2, mix: { expanded: 1, high_ppl: 1 }, earlierPools: index.byKey },
    ),
  );
  assert.deepEqual(
    carried.members.map((m) => [m.sampleId, m.reason]),
    [["held", "high_ppl"]],
    "the earlier member carries over as itself, not as the expansion that copied it",
  );
});

test("earlier pools: a new seed that paraphrases an earlier member is excluded naming it; judged sources are checked exactly only", () => {
  const held = candidate("held", {}, "where is my order from last week please look it up for me now");
  const paraphrase = candidate("para", {}, "where is my order from last week please look it up for me now thanks");
  const repair = candidate("repair", {}, "where is my order from last week please look it up for me now");
  const fresh = candidate("fresh");
  const check = new EarlierNearDuplicates({ threshold: 0.8 });
  check.addCandidates([paraphrase, fresh]);
  check.scan(held, { campaignId: "c", iteration: 1 });
  assert.deepEqual([...check.matches.keys()], ["para"]);
  const similarity = check.matches.get("para")?.similarity ?? 0;
  assert.ok(similarity >= 0.8 && similarity < 1, String(similarity));

  const r = selectNextRound(
    base(
      { repaired: { candidates: [repair] }, unused_seed: { candidates: [paraphrase, fresh] } },
      {
        budget: 3,
        mix: { repaired: 1, unused_seed: 1 },
        earlierNearDuplicates: check.matches,
        retired: new Map([["held", { action: "repaired", iteration: 1 }]]),
      },
    ),
  );
  assert.deepEqual(r.members.map((m) => m.sampleId).sort(), ["fresh", "repair"], "the repair (its original's query by design) is kept");
  assert.deepEqual(r.exclusions, [
    {
      sampleId: "para",
      reason: "earlier_pool_near_duplicate",
      details: { source: "unused_seed", earlierSampleId: "held", earlierCampaignId: "c", earlierIteration: 1, similarity, earlierLabelRetired: "repaired" },
    },
  ]);
  // The same candidate offered by a judged source is not checked against earlier pools by its query.
  const expanded = selectNextRound(base({ expanded: { candidates: [paraphrase] } }, { budget: 1, mix: { expanded: 1 }, earlierNearDuplicates: check.matches }));
  assert.deepEqual(
    expanded.members.map((m) => m.sampleId),
    ["para"],
  );
});

test("earlier pools' paraphrases: the most similar member is named, ties by pool then id whatever the scan order; the member itself and its dialogue's other cuts are not", () => {
  const q = "book two seats on the morning train to the coast for saturday";
  const seed = candidate("seed", {}, q);
  const sibling = candidate("sibling", { dialogueId: "d1" }, q);
  const members: [Candidate & { dialogueId?: string }, { campaignId: string; iteration: number }][] = [
    [candidate("m-far", {}, `${q} and sunday too`), { campaignId: "c", iteration: 1 }],
    [candidate("m-b", {}, `${q} now`), { campaignId: "c", iteration: 2 }],
    [candidate("m-a", {}, `${q} now`), { campaignId: "c", iteration: 2 }],
    [candidate("m-early", {}, `${q} ok`), { campaignId: "c", iteration: 3 }],
    [candidate("d1-cut1", { dialogueId: "d1" }, q), { campaignId: "c", iteration: 1 }],
    [{ ...seed }, { campaignId: "c", iteration: 1 }],
  ];
  const scanned = (order: typeof members) => {
    const check = new EarlierNearDuplicates({ threshold: 0.7 });
    check.addCandidates([seed, sibling]);
    for (const [m, pool] of order) check.scan(m, pool);
    return check.matches;
  };
  const forward = scanned(members);
  assert.deepEqual(forward, scanned([...members].reverse()));
  assert.equal(forward.get("seed")?.sampleId, "d1-cut1", "the most similar (the same words), though a sibling's cut");
  assert.equal(forward.get("seed")?.similarity, 1);
  // Without the two members with the same words: of the equally similar m-a and m-b (pool 2), the smaller id.
  const withoutExact = scanned(members.filter(([m]) => m.id !== "d1-cut1" && m.id !== "seed"));
  assert.deepEqual(withoutExact.get("seed"), { sampleId: "m-a", campaignId: "c", iteration: 2, similarity: withoutExact.get("seed")?.similarity });
  assert.equal(withoutExact.get("sibling")?.sampleId, "m-a", "a cut of d1 is matched by other dialogues' samples");
  assert.equal(forward.get("sibling")?.sampleId, "seed", "never by d1's own cuts (d1-cut1 has the same words): by another sample with them");
  assert.notEqual(forward.get("seed")?.sampleId, "seed", "a member offered again is no paraphrase of itself");
});
