/**
 * Sample ids are content hashes that stored rows, slot outcomes and exports refer to: a faster
 * canonical JSON must give byte-identical ids. Checked three ways: a digest of the ids of a fixed
 * corpus (computed with the implementation before the one-pass rewrite), agreement with that
 * implementation on awkward values, and ids recomputed from rows read back from the database.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertCampaign } from "../../../src/db/repos/campaigns.js";
import { insertSamples, pageSamples } from "../../../src/db/repos/samples.js";
import type { ChatMessage, McpTool } from "../../../src/domain/types.js";
import { canonicalJson, sampleId, ToolJsonCache } from "../../../src/util/ids.js";
import { SeededRandom } from "../../../src/util/random.js";

/** The canonical JSON ids were defined with: a key-sorted copy, then JSON.stringify. */
function referenceCanonicalJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) Object.defineProperty(out, k, { value: sortKeys(x), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(sortKeys(value));
}

const WORDS = ["alpha", "Beta", "city", "ÄÖü", "日本", "emoji 😀", 'quote " and \\ slash', "line\nbreak", "tab\t", "\u2028sep", "", "zeta", "_x", "10", "2"];

function word(r: SeededRandom): string {
  return WORDS[r.int(0, WORDS.length - 1)]!;
}

function value(r: SeededRandom, depth: number): unknown {
  const pick = r.int(0, depth > 3 ? 5 : 8);
  switch (pick) {
    case 0:
      return word(r);
    case 1:
      return r.int(-1000, 1000);
    case 2:
      return [0.5, -0, 1e21, 1e-7, 123.456, Number.MAX_SAFE_INTEGER][r.int(0, 5)];
    case 3:
      return r.chance(0.5);
    case 4:
      return null;
    case 5:
      return word(r) + String(r.int(0, 99));
    case 6:
    case 7: {
      const o: Record<string, unknown> = {};
      const n = r.int(0, 5);
      for (let i = 0; i < n; i++) o[word(r) + (r.chance(0.3) ? String(i) : "")] = r.chance(0.1) ? undefined : value(r, depth + 1);
      return o;
    }
    default:
      return Array.from({ length: r.int(0, 4) }, () => value(r, depth + 1));
  }
}

function corpus(): { campaignId: string; messages: ChatMessage[]; tools: McpTool[] }[] {
  const r = new SeededRandom(20261203);
  const library: McpTool[] = Array.from({ length: 40 }, (_, i) => ({
    name: `tool_${i}_${["get", "set", "list"][i % 3]}`,
    description: `${word(r)} ${word(r)}`,
    inputSchema: {
      type: "object",
      properties: { [word(r) || "p"]: { type: "string", description: word(r) }, n: { type: "integer", minimum: r.int(0, 5) } },
      required: ["n"],
    },
    ...(r.chance(0.3) ? { annotations: value(r, 2) as Record<string, unknown> } : {}),
  }));
  return Array.from({ length: 400 }, (_, i) => {
    const tools = r.shuffle(library).slice(0, r.int(1, 6));
    const messages: ChatMessage[] = [
      { role: "system", content: `system ${word(r)}` },
      { role: "user", content: `${word(r)} ${i}` },
      r.chance(0.7)
        ? {
            role: "assistant",
            content: r.chance(0.2) ? word(r) : null,
            tool_calls: Array.from({ length: r.int(1, 3) }, (_, k) => ({
              id: `call_${k}`,
              type: "function" as const,
              function: { name: tools[k % tools.length]!.name, arguments: JSON.stringify(value(r, 1)) },
            })),
          }
        : { role: "assistant", content: word(r) },
    ];
    return { campaignId: `c${i % 3}`, messages, tools };
  });
}

/** sha256 of the corpus' ids, one per line, as the implementation before the one-pass rewrite made them. */
const CORPUS_ID_DIGEST = "18a50ff777d8e3ebae7509533c6a43120da77862bb1d672fc714d8b1737aedeb";

test("the ids of a fixed corpus are the ones the key-sorted-copy implementation made", () => {
  const ids = corpus().map((s) => sampleId(s.campaignId, { messages: s.messages, tools: s.tools }));
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(createHash("sha256").update(ids.join("\n")).digest("hex"), CORPUS_ID_DIGEST);
  // With each tool's text cached (as a synthesis batch does), the very same ids.
  const cache = new ToolJsonCache();
  const cached = corpus().map((s) => sampleId(s.campaignId, { messages: s.messages, tools: s.tools }, cache));
  assert.deepEqual(cached, ids);
});

test("canonical JSON is byte-identical to a key-sorted JSON.stringify on awkward values", () => {
  const r = new SeededRandom(7);
  const awkward: unknown[] = [
    { b: 1, a: undefined, c: [undefined, () => 1, Symbol("s")], d: () => 2 },
    JSON.parse('{"__proto__": {"x": 1}, "constructor": 2}'),
    { "10": 1, "2": 2, a: 3, B: 4, "": 5 },
    [NaN, Infinity, -0, 1e21, null],
    new Date(0),
    "plain",
    42,
    null,
    [],
    {},
    { nested: { deeper: [{ z: 1, y: [{ b: 2, a: 1 }] }] } },
  ];
  for (let i = 0; i < 300; i++) awkward.push(value(r, 0));
  for (const v of awkward) assert.equal(canonicalJson(v), referenceCanonicalJson(v), JSON.stringify(v));
  // A tool object seen twice (the per-tool cache) gives the same text as a fresh copy of it.
  const tool = { name: "t", description: "d", inputSchema: { type: "object" as const, properties: { b: { type: "string" }, a: { type: "integer" } } } };
  const cache = new ToolJsonCache();
  const first = sampleId("c", { messages: [], tools: [tool, tool] }, cache);
  assert.equal(sampleId("c", { messages: [], tools: [tool, tool] }, cache), first);
  assert.equal(sampleId("c", { messages: [], tools: [structuredClone(tool), structuredClone(tool)] }), first);
});

test("ids recomputed from rows read back from the database equal the stored ids", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const samples = corpus().slice(0, 120);
    for (const c of ["c0", "c1", "c2"]) await insertCampaign(h.db, { id: c, name: c, config: {} });
    const rows = samples.map((s, i) => ({
      id: sampleId(s.campaignId, { messages: s.messages, tools: s.tools }),
      campaignId: s.campaignId,
      iteration: 1,
      kind: "standard" as const,
      origin: "synthesized" as const,
      slotKey: `${s.campaignId}/1/s/${i}`,
      messages: s.messages,
      tools: s.tools,
    }));
    assert.equal((await insertSamples(h.db, rows)).size, rows.length);
    let checked = 0;
    for (const c of ["c0", "c1", "c2"]) {
      for (const row of await pageSamples(h.db, { campaignId: c, iteration: 1, limit: 1000 })) {
        // JSONB reorders keys and drops nothing: the id must survive the round trip.
        assert.equal(sampleId(row.campaignId, { messages: row.messages, tools: row.tools }), row.id);
        checked++;
      }
    }
    assert.equal(checked, rows.length);
  } finally {
    await h.close();
  }
});

test("integer-like keys come first in numeric order, as JavaScript enumerates them", () => {
  const v = { b: 1, "10": 2, a: 3, "2": 4, "02": 5, "4294967294": 6, "4294967295": 7, "-1": 8 };
  assert.equal(canonicalJson(v), referenceCanonicalJson(v));
  assert.equal(canonicalJson(v), '{"2":4,"10":2,"4294967294":6,"-1":8,"02":5,"4294967295":7,"a":3,"b":1}');
});
