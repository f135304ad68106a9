/**
 * dedupe.exact run directly (no Temporal) with real PostgreSQL, batch by batch as the framework
 * plans them, then its finalize step. Samples are built by hand (a user turn and a get_current_weather
 * call), so each exact key and each status is planted: copies of a key share the question and the
 * answer. Covers the keeper rule (the first verified sample by id, else the first pending one),
 * rejected samples left as they are (status and verdicts), reruns and retries (the same statuses
 * whatever the batches), and the documented orders: dedupe before verify.rules (undone by the rules,
 * restored by a rerun) and between verify.rules and verify.judges (duplicates not brought back).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import type { Db } from "../../src/db/client.js";
import { insertSamples, setVerdicts, type NewSample } from "../../src/db/repos/samples.js";
import { samples } from "../../src/db/schema.js";
import type { ChatMessage, SampleStatus, Verdict } from "../../src/domain/types.js";
import { dedupeExactHandler } from "../../src/stages/dedupe/exact/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { verifyRulesHandler } from "../../src/stages/verify/rules/handler.js";
import { EXAMPLE_TOOLS } from "../../src/tools/examples.js";
import { campaignConfig, planAndRun, stageContext } from "../helpers/selfEvolution.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";

type DedupeStage = StageConfigOf<"dedupe.exact">;

let res: StageResources;
before(async () => {
  res = await startStageResources("dedupe-exact", 23);
});
after(async () => res?.close());

const RUN = Date.now().toString(36);
const WEATHER = EXAMPLE_TOOLS.map((t) => t.tool).find((t) => t.name === "get_current_weather")!;

/** A question and its answer: every sample built from the same city (and tool) has the same exact key. */
function messages(city: string, toolName = WEATHER.name): ChatMessage[] {
  return [
    { role: "user", content: `What's the weather in ${city} right now?` },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: toolName, arguments: JSON.stringify({ location: city }) } }],
    },
  ];
}

const judgeVerdict = (ok: boolean): Verdict => ({ verifier: "judges", ok, reasons: ok ? [] : ["scripted: INCORRECT"] });

interface Planted {
  /** Sorts by id in this order within a campaign. */
  name: string;
  city: string;
  status: SampleStatus;
  toolName?: string;
}

async function plant(campaignId: string, rows: Planted[]): Promise<void> {
  const out: NewSample[] = rows.map((r) => ({
    id: `${campaignId}-${r.name}`,
    campaignId,
    iteration: 1,
    kind: "standard",
    origin: "synthesized",
    stage: "synthesize.singleTurn",
    messages: messages(r.city, r.toolName),
    tools: [WEATHER],
    status: r.status,
    verdicts: r.status === "pending" ? [] : [{ verifier: "rules", ok: true, reasons: [] }, judgeVerdict(r.status === "verified")],
  }));
  assert.equal((await insertSamples(res.db.db, out)).size, rows.length);
}

async function statuses(db: Db, campaignId: string): Promise<Record<string, string>> {
  const rows = await db.select({ id: samples.id, status: samples.status }).from(samples).where(eq(samples.campaignId, campaignId));
  return Object.fromEntries(rows.map((r) => [r.id.slice(campaignId.length + 1), r.status]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
}

async function verdictsOf(db: Db, campaignId: string): Promise<Record<string, unknown>> {
  const rows = await db.select({ id: samples.id, verdicts: samples.verdicts }).from(samples).where(eq(samples.campaignId, campaignId));
  return Object.fromEntries(rows.map((r) => [r.id, r.verdicts]));
}

/** Plans and runs every batch of dedupe.exact (batches of `batchSize`), then its finalize step. */
async function dedupe(campaignId: string, batchSize: number): Promise<Record<string, unknown>> {
  const config = campaignConfig({ simUrl: res.sim.url, stages: [{ name: "verify.rules" }, { name: "dedupe.exact", batchSize }] });
  const ctx = stageContext<DedupeStage>(res.db.db, res.workDir, campaignId, config, "dedupe.exact");
  const batches = await planAndRun(res.db.db, ctx, dedupeExactHandler);
  return dedupeExactHandler.finalize!(ctx, batches);
}

test(
  "after verification: the first verified copy of a key is kept, rejected copies stay rejected, reruns and retries change nothing",
  { timeout: 60_000 },
  async () => {
    const db = res.db.db;
    const campaignId = `dedupe-after-${RUN}`;
    await plant(campaignId, [
      // Paris: the first copy by id was rejected by the judges, two later ones passed.
      { name: "a", city: "Paris", status: "rejected" },
      { name: "b", city: "Paris", status: "verified" },
      { name: "c", city: "Paris", status: "verified" },
      // Rome: two verified copies.
      { name: "d", city: "Rome", status: "verified" },
      { name: "e", city: "Rome", status: "verified" },
      // Oslo: every copy rejected.
      { name: "f", city: "Oslo", status: "rejected" },
      { name: "g", city: "Oslo", status: "rejected" },
      // Lima: a rejected copy, an unverified one, then a verified one (verified wins over an earlier pending).
      { name: "h", city: "Lima", status: "rejected" },
      { name: "i", city: "Lima", status: "pending" },
      { name: "j", city: "Lima", status: "verified" },
      // Kyiv: nothing verified yet, two pending copies: the first by id is kept, as before.
      { name: "k", city: "Kyiv", status: "pending" },
      { name: "l", city: "Kyiv", status: "pending" },
      // Bern: a single verified sample.
      { name: "m", city: "Bern", status: "verified" },
    ]);
    const verdictsBefore = await verdictsOf(db, campaignId);
    const expected = {
      a: "rejected",
      b: "verified",
      c: "duplicate",
      d: "verified",
      e: "duplicate",
      f: "rejected",
      g: "rejected",
      h: "rejected",
      i: "duplicate",
      j: "verified",
      k: "pending",
      l: "duplicate",
      m: "verified",
    };

    // Batches of two: most keys span two batches.
    const summary = await dedupe(campaignId, 2);
    assert.deepEqual(await statuses(db, campaignId), expected);
    assert.deepEqual(summary, { keyed: 13, duplicates: 4, kept: 5, rejected: 4 });
    assert.deepEqual(await verdictsOf(db, campaignId), verdictsBefore, "dedupe writes statuses only, every verdict stays as the verifiers left it");

    // A retried finalize (the activity retried after its statement ran) and a full rerun with other
    // batch boundaries: the same statuses; the rerun keys only the samples not yet duplicate.
    const ctx = stageContext<DedupeStage>(
      db,
      res.workDir,
      campaignId,
      campaignConfig({ simUrl: res.sim.url, stages: [{ name: "dedupe.exact", batchSize: 2 }] }),
      "dedupe.exact",
    );
    assert.deepEqual(await dedupeExactHandler.finalize!(ctx, [{ items: 13, keyed: 13 }]), summary);
    assert.deepEqual(await statuses(db, campaignId), expected);
    assert.deepEqual(await dedupe(campaignId, 5), { keyed: 9, duplicates: 4, kept: 5, rejected: 4 });
    assert.deepEqual(await statuses(db, campaignId), expected);
    assert.deepEqual(await verdictsOf(db, campaignId), verdictsBefore);
  },
);

test(
  "before verify.rules: the first pending copy is kept; the rules rewrite every status, a rerun after verification keeps the first copy that passed",
  { timeout: 60_000 },
  async () => {
    const db = res.db.db;
    const campaignId = `dedupe-before-${RUN}`;
    await plant(campaignId, [
      { name: "p", city: "Paris", status: "pending" },
      { name: "q", city: "Paris", status: "pending" },
      { name: "r", city: "Paris", status: "pending" },
      { name: "s", city: "Rome", status: "pending" },
      { name: "t", city: "Rome", status: "pending" },
      // A call to a tool the sample does not offer: the rules reject both copies.
      { name: "u", city: "Oslo", status: "pending", toolName: "get_weather_everywhere" },
      { name: "v", city: "Oslo", status: "pending", toolName: "get_weather_everywhere" },
    ]);
    assert.deepEqual(await dedupe(campaignId, 3), { keyed: 7, duplicates: 4, kept: 3, rejected: 0 });
    assert.deepEqual(await statuses(db, campaignId), {
      p: "pending",
      q: "duplicate",
      r: "duplicate",
      s: "pending",
      t: "duplicate",
      u: "pending",
      v: "duplicate",
    });

    // verify.rules reads every sample of the iteration, duplicates included, and writes each status.
    const config = campaignConfig({ simUrl: res.sim.url, stages: [{ name: "verify.rules" }, { name: "dedupe.exact" }] });
    await planAndRun(db, stageContext<StageConfigOf<"verify.rules">>(db, res.workDir, campaignId, config, "verify.rules"), verifyRulesHandler);
    assert.deepEqual(await statuses(db, campaignId), {
      p: "verified",
      q: "verified",
      r: "verified",
      s: "verified",
      t: "verified",
      u: "rejected",
      v: "rejected",
    });
    // The judges reject Paris's first copy (written as verify.judges writes its verdicts).
    const [p] = await db
      .select()
      .from(samples)
      .where(eq(samples.id, `${campaignId}-p`));
    await setVerdicts(db, [{ id: p!.id, status: "rejected", verdicts: [...p!.verdicts, judgeVerdict(false)] }]);

    const expected = { p: "rejected", q: "verified", r: "duplicate", s: "verified", t: "duplicate", u: "rejected", v: "rejected" };
    assert.deepEqual(await dedupe(campaignId, 3), { keyed: 7, duplicates: 2, kept: 2, rejected: 3 });
    assert.deepEqual(await statuses(db, campaignId), expected, "the judges' rejection stands and Paris's next copy that passed is kept");
    assert.deepEqual(await dedupe(campaignId, 1), { keyed: 5, duplicates: 2, kept: 2, rejected: 3 });
    assert.deepEqual(await statuses(db, campaignId), expected, "a rerun changes nothing");
  },
);

test(
  "between verify.rules and verify.judges: a duplicate stays a duplicate when the judges reject the copy kept (documented)",
  { timeout: 60_000 },
  async () => {
    const db = res.db.db;
    const campaignId = `dedupe-between-${RUN}`;
    await plant(campaignId, [
      { name: "p", city: "Paris", status: "verified" },
      { name: "q", city: "Paris", status: "verified" },
    ]);
    assert.deepEqual(await dedupe(campaignId, 1), { keyed: 2, duplicates: 1, kept: 1, rejected: 0 });
    const [p] = await db
      .select()
      .from(samples)
      .where(eq(samples.id, `${campaignId}-p`));
    await setVerdicts(db, [{ id: p!.id, status: "rejected", verdicts: [...p!.verdicts, judgeVerdict(false)] }]);
    // verify.judges reads verified samples only: q was never judged, and is not brought back.
    assert.deepEqual(await dedupe(campaignId, 1), { keyed: 1, duplicates: 1, kept: 0, rejected: 1 });
    assert.deepEqual(await statuses(db, campaignId), { p: "rejected", q: "duplicate" });
  },
);
