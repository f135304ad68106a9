/**
 * The export.verl stage: its config, then the handler run directly (no Temporal) over samples in real
 * PostgreSQL, planned the way the framework plans a selection: files under <output>/verl, the
 * training_datasets row, and latestTrainingDataset's "newest at or before" lookup.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { tableFromIPC } from "apache-arrow";
import { readParquet } from "parquet-wasm";
import { BFCL_FAST_CATEGORIES } from "../../../src/bfcl/categoryNames.js";
import { parseCampaignConfig, type CampaignConfig } from "../../../src/config/campaignConfig.js";
import { afterVerifyStageParser } from "../../helpers/configs.js";
import type { DbHandle } from "../../../src/db/client.js";
import { insertSamples, type NewSample } from "../../../src/db/repos/samples.js";
import { planSelection } from "../../../src/db/repos/stageBatchItems.js";
import { latestTrainingDataset, recordTrainingDataset } from "../../../src/db/repos/trainingDatasets.js";
import { poolMembers, trainingDatasets } from "../../../src/db/schema.js";
import type { McpTool } from "../../../src/domain/types.js";
import { buildStageContext } from "../../../src/framework/stageContext.js";
import type { StageContext } from "../../../src/framework/stage.js";
import { createRoleClient } from "../../../src/llm/client.js";
import type { UsageSink } from "../../../src/llm/usage.js";
import { exportVerlHandler } from "../../../src/stages/export/verl/handler.js";
import { exportVerlSpec } from "../../../src/stages/export/verl/spec.js";
import { STAGE_HANDLERS } from "../../../src/stages/handlers.js";
import { STAGE_SPECS, type StageConfigOf } from "../../../src/stages/specs.js";
import type { VerlManifest } from "../../../src/training/verl/dataset.js";
import { splitByKey } from "../../../src/training/verl/split.js";
import { startStageResources, type StageResources } from "../../helpers/stageResources.js";
import { multiTurnRows, travelDialogue } from "../../helpers/multiTurnSamples.js";

type ExportVerlStage = StageConfigOf<"export.verl">;

const { rawConfig, parse, configError } = afterVerifyStageParser("export.verl");

test("export.verl config: defaults, and bad values named by their path", () => {
  assert.deepEqual(parse({}).stages[1], {
    name: "export.verl",
    batchSize: 5000,
    from: "iteration",
    valFraction: 0.05,
    sft: false,
    toolsInPrompt: "hermesSystem",
    include: ["verified"],
    decontaminate: { enabled: true, categories: [...BFCL_FAST_CATEGORIES], threshold: 0.8, shingleSize: 3 },
  });
  assert.match(
    configError({ decontaminate: { categories: ["multi_turn_base"] } }),
    /stages\[1\]\.decontaminate\.categories\[0\]: unknown or multi-turn BFCL category/,
  );
  assert.match(configError({ decontaminate: { threshold: 0.1 } }), /stages\[1\]\.decontaminate\.threshold: expected a number between 0.3 and 1/);
  assert.match(configError({ toolsInPrompt: "user" }), /stages\[1\]\.toolsInPrompt: expected "hermesSystem" or "none"/);
  assert.match(configError({ from: "everything" }), /stages\[1\]\.from: expected "iteration" or "pool"/);
  assert.ok(STAGE_SPECS.includes(exportVerlSpec));
  assert.equal(STAGE_HANDLERS["export.verl"], exportVerlHandler);
  assert.match(configError({ valFraction: 1 }), /stages\[1\]\.valFraction: expected a number in \[0, 1\)/);
  assert.match(configError({ valFraction: -0.1 }), /stages\[1\]\.valFraction: expected a number in \[0, 1\)/);
  assert.match(configError({ seed: -1 }), /stages\[1\]\.seed: expected a non-negative integer/);
  assert.match(configError({ sft: "yes" }), /stages\[1\]\.sft: expected true or false/);
  assert.match(configError({ include: ["duplicate"] }), /stages\[1\]\.include\[0\]: expected "verified", "pending" or "rejected"/);
  assert.match(configError({ shuffle: true }), /stages\[1\]/, "unknown keys are rejected");
});

const tool: McpTool = { name: "get_weather", description: "Weather now.", inputSchema: { type: "object", properties: { city: { type: "string" } } } };
const RUN = Date.now().toString(36);

function sampleRow(campaignId: string, iteration: number, i: number, status: "verified" | "pending" | "rejected"): NewSample {
  return {
    id: `${campaignId}-s${String(i).padStart(3, "0")}`,
    campaignId,
    iteration,
    kind: "standard",
    origin: "synthesized",
    status,
    tools: [tool],
    messages: [
      { role: "user", content: `Weather in city ${i}?` },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c", type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city: `city ${i}` }) } }],
      },
    ],
  };
}

let resources: StageResources | undefined;
let db: DbHandle;
let workDir: string;

before(async () => {
  resources = await startStageResources("export-verl", 3);
  ({ db, workDir } = resources);
});
after(async () => {
  await resources?.close();
});

function context(campaignId: string, iteration: number, config: CampaignConfig, logs: string[]): StageContext<ExportVerlStage> {
  const deps = {
    db: db.db,
    baseDir: workDir,
    log: (m: string) => logs.push(m),
    createLlm: (cfg: CampaignConfig, role: string, usage: UsageSink) => createRoleClient(cfg, role, { usage }),
  };
  return buildStageContext({ campaignId, iteration, config, stage: config.stages[1] as ExportVerlStage, signal: new AbortController().signal, deps }).ctx;
}

async function runStage(campaignId: string, iteration: number, config: CampaignConfig, logs: string[] = []) {
  const ctx = context(campaignId, iteration, config, logs);
  const reads = exportVerlSpec.reads;
  assert.equal(reads.kind, "samples");
  if (reads.kind !== "samples") return assert.fail("export.verl reads a sample selection");
  await planSelection(db.db, { campaignId, iteration, stage: "export.verl" }, reads.selection(ctx.stage), ctx.stage.batchSize, reads.oneBatch ?? false);
  const reports: { samples: number }[] = [];
  const batch = await exportVerlHandler.runBatch(ctx, 0, { resumeFrom: undefined, report: (d) => reports.push(d) });
  return { ctx, batch, reports, summary: await exportVerlHandler.finalize!(ctx, [batch]) };
}

test("export.verl writes the iteration's selected samples under <output>/verl and records the dataset", { timeout: 120_000 }, async () => {
  const campaignId = `verl-${RUN}`;
  const rows = [
    ...Array.from({ length: 18 }, (_, i) => sampleRow(campaignId, 1, i, "verified")),
    sampleRow(campaignId, 1, 100, "pending"),
    sampleRow(campaignId, 1, 101, "rejected"),
    { ...sampleRow(campaignId, 1, 102, "verified"), messages: [{ role: "user" as const, content: "no label" }] },
    sampleRow(campaignId, 2, 200, "verified"),
  ];
  await insertSamples(db.db, rows);
  const logs: string[] = [];
  const config = parse({ valFraction: 0.2, sft: true, batchSize: 4 });
  const { ctx, batch, reports, summary } = await runStage(campaignId, 1, config, logs);
  // Ids carry the run's suffix, and a sample's side is a hash of its id: the sizes come from the rule, not a fixed count.
  const exported = rows.slice(0, 18).map((r) => r.id as string);
  const expected = splitByKey(exported, 0.2);
  const [train, val] = [expected.train.length, expected.val.length];
  assert.ok(val >= 1 && train >= 1);
  assert.deepEqual(batch, { items: 19, train, val, sft: train, skipped: 1, contaminated: 0 });
  assert.deepEqual(summary, { train, val, sft: train, skipped: 1, contaminated: 0 });
  assert.deepEqual(reports, [{ samples: 19 }]);
  assert.match(logs.join("\n"), /skipped 1 sample\(s\).*s102: messages: expected a prompt and a label turn/);

  const dir = path.join(ctx.outputDir(), "verl");
  const manifest = JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")) as VerlManifest;
  assert.equal(manifest.provenance.campaignId, campaignId);
  assert.equal(manifest.provenance.iteration, 1);
  assert.equal(manifest.provenance.seed, 42, "the campaign's seed when the stage sets none");
  assert.deepEqual(manifest.provenance.models, { generator: "toolloop-sim-generator" });
  const ids = (await readFile(path.join(dir, "sample_ids.txt"), "utf8")).trimEnd().split("\n");
  assert.equal(ids.length, 18);
  assert.ok(
    ids.every((id) => /-s0\d\d$/.test(id)),
    "only verified samples of iteration 1",
  );

  const found = await latestTrainingDataset(db.db, campaignId, 1);
  assert.ok(found);
  assert.equal(found.iteration, 1);
  assert.deepEqual(found.manifest, manifest);
  assert.deepEqual(found.paths, {
    dir,
    manifest: path.join(dir, "manifest.json"),
    train: path.join(dir, "train.parquet"),
    val: path.join(dir, "val.parquet"),
    sampleIds: path.join(dir, "sample_ids.txt"),
    sft: path.join(dir, "sft.jsonl"),
    sftParquet: path.join(dir, "sft.parquet"),
  });
  for (const p of Object.values(found.paths)) assert.ok(existsSync(p), p);

  // Iteration 3 has no export of its own: it gets iteration 1's; iteration 0 and other campaigns get none.
  assert.equal((await latestTrainingDataset(db.db, campaignId, 3))?.iteration, 1);
  assert.equal(await latestTrainingDataset(db.db, campaignId, 0), undefined);
  assert.equal(await latestTrainingDataset(db.db, `${campaignId}-other`, 5), undefined);

  // A rerun (retried activity) with other settings replaces the row and the files: no SFT set now.
  const rerun = await runStage(campaignId, 1, parse({ valFraction: 0.5, seed: 9, include: ["verified", "pending"] }));
  const rerunSplit = splitByKey([...exported, rows[18]!.id as string], 0.5);
  assert.deepEqual(rerun.batch, { items: 20, train: rerunSplit.train.length, val: rerunSplit.val.length, sft: 0, skipped: 1, contaminated: 0 });
  assert.ok(
    expected.val.every((id) => rerunSplit.val.includes(id)),
    "a larger share and another seed keep the validation samples in validation",
  );
  const rows1 = await db.db.select().from(trainingDatasets).where(eq(trainingDatasets.campaignId, campaignId));
  assert.equal(rows1.length, 1);
  const again = await latestTrainingDataset(db.db, campaignId, 1);
  assert.equal(again?.paths.sft, undefined);
  assert.equal(again?.manifest.provenance.seed, 9);
  assert.ok(!existsSync(path.join(dir, "sft.jsonl")));
  assert.ok(!existsSync(path.join(dir, "sft.parquet")));
  assert.equal(again?.paths.sftParquet, undefined);

  // A later iteration's export is what iteration 2 onwards trains on.
  await runStage(campaignId, 2, config);
  assert.equal((await latestTrainingDataset(db.db, campaignId, 3))?.iteration, 2);
  assert.equal((await latestTrainingDataset(db.db, campaignId, 2))?.manifest.counts.train, 1);
  assert.equal((await latestTrainingDataset(db.db, campaignId, 1))?.iteration, 1);

  // recordTrainingDataset alone is idempotent too.
  await recordTrainingDataset(db.db, { campaignId, iteration: 2, dir: "/elsewhere", manifest });
  assert.equal((await latestTrainingDataset(db.db, campaignId, 2))?.paths.dir, "/elsewhere");
});

test("export.verl keeps each multi-turn dialogue's cuts on one side of the train/validation split", { timeout: 120_000 }, async () => {
  const campaignId = `verl-mt-${RUN}`;
  // Eight dialogues (two cities each, four slots), every cut verified: 8 x 7 cuts.
  const rows = Array.from({ length: 8 }, (_, slot) =>
    multiTurnRows(travelDialogue(slot, slot % 2 === 0 ? "Lisbon" : "Porto"), { campaignId, status: "verified" }),
  ).flat();
  await insertSamples(db.db, rows);
  const dialogueOf = new Map(rows.map((r) => [r.id as string, (r.metadata as { dialogue: { id: string } }).dialogue.id]));
  assert.equal(new Set(dialogueOf.values()).size, 8);
  // The travel tools include get_current_weather, a BFCL function's signature: decontamination would leave out every cut.
  const { ctx, batch } = await runStage(campaignId, 1, parse({ valFraction: 0.25, decontaminate: { enabled: false } }));
  assert.equal(Number(batch.train) + Number(batch.val), rows.length);
  const dir = path.join(ctx.outputDir(), "verl");
  const idsOf = async (file: string) => {
    const table = tableFromIPC(readParquet(new Uint8Array(await readFile(path.join(dir, file)))).intoIPCStream());
    return (table.getChild("extra_info")!.toArray() as { sample_id: string }[]).map((e) => String(e.sample_id));
  };
  const train = new Set((await idsOf("train.parquet")).map((id) => dialogueOf.get(id)));
  const val = new Set((await idsOf("val.parquet")).map((id) => dialogueOf.get(id)));
  assert.ok(val.size >= 1, `whole dialogues are held out (${val.size})`);
  const expected = splitByKey(
    rows.map((r) => r.id as string),
    0.25,
    // The handler's group key for a dialogue.
    (id) => `dialogue:${dialogueOf.get(id)}`,
  );
  assert.deepEqual((await idsOf("val.parquet")).sort(), expected.val, "validation: the dialogues whose key hashes below the share");
  assert.deepEqual(
    [...val].filter((d) => train.has(d)),
    [],
    "no dialogue has cuts in both train and validation: a later cut's prompt holds the earlier cuts' labels",
  );
  assert.equal(Number(batch.val), expected.val.length, `validation holds whole dialogues (${batch.val} of ${rows.length})`);
});

test(
  "export.verl from a pool counts the samples it read, not the rows hard items repeat: the stage's progress never passes its total",
  { timeout: 120_000 },
  async () => {
    const campaignId = `verl-pool-${RUN}`;
    const rows = Array.from({ length: 10 }, (_, i) => sampleRow(campaignId, 1, i, "verified"));
    await insertSamples(db.db, rows);
    // Iteration 3's pool: the ten samples, three of the train side hard (weight 2: two train rows each).
    const hard = new Set(
      splitByKey(
        rows.map((r) => r.id as string),
        0.2,
      ).train.slice(0, 3),
    );
    await db.db
      .insert(poolMembers)
      .values(rows.map((r) => ({ campaignId, iteration: 3, sampleId: r.id as string, reason: "high_ppl" as const, weight: hard.has(r.id as string) ? 2 : 1 })));
    const { batch, reports } = await runStage(campaignId, 3, parse({ from: "pool", valFraction: 0.2 }));
    const planned = await db.db.select().from(poolMembers).where(eq(poolMembers.campaignId, campaignId));
    assert.equal(planned.length, 10);
    assert.equal(Number(batch.train) + Number(batch.val), 10 + hard.size, `hard items are repeated (${batch.train} train + ${batch.val} val rows)`);
    assert.equal(batch.items, 10, "items: the pool's samples (the planned total), not the rows written");
    assert.deepEqual(reports.at(-1), { samples: 10 });
  },
);

test(
  "export.verl leaves out BFCL test items (a BFCL question, a BFCL function's signature) and says so in its manifest; a config frozen before the setting exports as it did",
  { timeout: 120_000 },
  async () => {
    const campaignId = `verl-decontam-${RUN}`;
    // simple_0 of BFCL v3: its question, and its function offered under its own name and parameters.
    const bfclQuery = {
      ...sampleRow(campaignId, 1, 900, "verified"),
      messages: [
        { role: "user" as const, content: "Find the area of a triangle with a base of 10 units and height of 5 units." },
        sampleRow(campaignId, 1, 900, "verified").messages[1]!,
      ],
    };
    const triangleTool: McpTool = {
      name: "calculate_triangle_area",
      description: "Area of a triangle.",
      inputSchema: {
        type: "object",
        properties: { base: { type: "integer" }, height: { type: "integer" }, unit: { type: "string" } },
        required: ["base", "height"],
      },
    };
    const bfclSignature: NewSample = {
      ...sampleRow(campaignId, 1, 901, "verified"),
      tools: [triangleTool],
      messages: [
        { role: "user", content: "My garden bed is a triangle 4 m across and 3 m deep: how much soil surface is that?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c", type: "function", function: { name: "calculate_triangle_area", arguments: '{"base":4,"height":3}' } }],
        },
      ],
    };
    const clean = Array.from({ length: 8 }, (_, i) => sampleRow(campaignId, 1, i, "verified"));
    await insertSamples(db.db, [...clean, bfclQuery, bfclSignature]);

    const logs: string[] = [];
    const { ctx, batch, summary } = await runStage(campaignId, 1, parse({ valFraction: 0.25 }), logs);
    const cleanSplit = splitByKey(
      clean.map((r) => r.id as string),
      0.25,
    );
    assert.deepEqual(batch, { items: 10, train: cleanSplit.train.length, val: cleanSplit.val.length, sft: 0, skipped: 0, contaminated: 2 });
    assert.equal(summary.contaminated, 2);
    const dir = path.join(ctx.outputDir(), "verl");
    const manifest = JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")) as VerlManifest;
    assert.ok(manifest.decontamination?.enabled);
    assert.deepEqual(manifest.decontamination.excluded.byReason, { contaminated_query: 1, contaminated_signature: 1 });
    assert.deepEqual(
      manifest.decontamination.excluded.examples.map((e) => [e.sampleId, e.reason, e.bfclId]),
      [
        [`${campaignId}-s900`, "contaminated_query", "simple_0"],
        // The first BFCL entry (categories in name order) that has the signature.
        [`${campaignId}-s901`, "contaminated_signature", "parallel_multiple_164"],
      ],
    );
    assert.equal(
      manifest.decontamination.excluded.examples[1]?.reason === "contaminated_signature" && manifest.decontamination.excluded.examples[1].tool,
      "calculate_triangle_area",
    );
    const ids = (await readFile(path.join(dir, "sample_ids.txt"), "utf8")).trimEnd().split("\n");
    assert.deepEqual(ids, clean.map((r) => r.id).sort());
    assert.match(
      logs.join("\n"),
      /left out 2 sample\(s\) that are BFCL test items \(contaminated_query 1, contaminated_signature 1; first: .*-s900 matches simple_0\)/,
    );

    // Switched off, and in a config frozen before the setting existed (no `decontaminate`): all ten.
    const off = await runStage(campaignId, 1, parse({ valFraction: 0.25, decontaminate: { enabled: false } }));
    assert.equal(off.batch.contaminated, 0);
    assert.equal(Number(off.batch.train) + Number(off.batch.val), 10);
    const older = parse({ valFraction: 0.25 });
    delete (older.stages[1] as Partial<ExportVerlStage>).decontaminate;
    const old = await runStage(campaignId, 1, older);
    assert.equal(Number(old.batch.train) + Number(old.batch.val), 10);
    const oldManifest = JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")) as VerlManifest;
    assert.deepEqual(oldManifest.decontamination, { enabled: false });
  },
);

test(
  "export.verl warns when its sets are smaller than one batch of the iteration's train stages (verl would have no batch), not when they hold one",
  { timeout: 120_000 },
  async () => {
    const campaignId = `verl-batch-${RUN}`;
    const rows = Array.from({ length: 12 }, (_, i) => sampleRow(campaignId, 7, i, "verified"));
    await insertSamples(db.db, rows);
    await db.db.insert(poolMembers).values(rows.map((r) => ({ campaignId, iteration: 7, sampleId: r.id as string, reason: "high_ppl" as const, weight: 1 })));
    const withTraining = (grpoBatch: number, sftBatch: number, trainer: "verl" | "standin") => {
      const raw = rawConfig({ from: "pool", valFraction: 0.2, sft: true });
      const stages = raw.stages as Record<string, unknown>[];
      stages.push(
        { name: "train.sft", trainer, baseModel: "m", sft: { trainBatchSize: sftBatch, microBatchSizePerGpu: 1 } },
        { name: "train.grpo", trainer, baseModel: "m", grpo: { trainBatchSize: grpoBatch, ppoMiniBatchSize: 1 } },
      );
      const r = parseCampaignConfig(raw);
      if (!r.ok) throw r.error;
      return r.config;
    };
    // Iteration 7 of a loop whose pool shrank to 12: n train rows (and n SFT rows; n = 12 less the hash rule's validation share, at most 11) against batches of 32 and 16.
    const n = splitByKey(
      rows.map((r) => r.id as string),
      0.2,
    ).train.length;
    const short = await runStage(campaignId, 7, withTraining(32, 16, "verl"));
    assert.deepEqual([short.summary.train, short.summary.sft], [n, n]);
    assert.equal(
      short.summary.warning,
      `fewer rows than one training batch: SFT set ${n} < train.sft's sft.trainBatchSize 16, train split ${n} < train.grpo's grpo.trainBatchSize 32. ` +
        "verl drops the incomplete batch, so it would have none and stop (`Train dataloader is empty!`). Lower the batch size or give the pool more samples (see select.nextRound's warning)",
    );
    const standin = await runStage(campaignId, 7, withTraining(32, n, "standin"));
    assert.equal(
      standin.summary.warning,
      `fewer rows than one training batch: train split ${n} < train.grpo's grpo.trainBatchSize 32. ` +
        "verl drops the incomplete batch, so it would have none and stop (`Train dataloader is empty!`); the SIMULATED stand-in trainer runs one short step instead. " +
        "Lower the batch size or give the pool more samples (see select.nextRound's warning)",
      `${n} SFT rows hold a batch of ${n}`,
    );
    const fits = await runStage(campaignId, 7, withTraining(n, n, "verl"));
    assert.equal(fits.summary.warning, undefined, `${n} rows hold a batch of ${n}`);
  },
);

test(
  "export.verl warns when a pool too small to hold any out leaves train.grpo no validation rows (verl stops: Validation dataloader is empty!)",
  { timeout: 120_000 },
  async () => {
    const campaignId = `verl-noval-${RUN}`;
    // The last sample of a pool that shrank to one: nothing can be held out.
    const rows = [sampleRow(campaignId, 9, 0, "verified")];
    await insertSamples(db.db, rows);
    await db.db.insert(poolMembers).values(rows.map((r) => ({ campaignId, iteration: 9, sampleId: r.id as string, reason: "high_ppl" as const, weight: 1 })));
    const config = (trainer: "verl" | "standin") => {
      const raw = rawConfig({ from: "pool", valFraction: 0.2 });
      (raw.stages as Record<string, unknown>[]).push({ name: "train.grpo", trainer, baseModel: "m", grpo: { trainBatchSize: 1, ppoMiniBatchSize: 1 } });
      const r = parseCampaignConfig(raw);
      if (!r.ok) throw r.error;
      return r.config;
    };
    const verl = await runStage(campaignId, 9, config("verl"));
    assert.deepEqual([verl.summary.train, verl.summary.val], [1, 0]);
    assert.equal(
      verl.summary.warning,
      "no validation rows (the pool is too small to hold any out, or valFraction is 0): verl's GRPO trainer stops before its first step (`Validation dataloader is empty!`). " +
        "Give the pool more samples or raise valFraction",
    );
    const standin = await runStage(campaignId, 9, config("standin"));
    assert.match(String(standin.summary.warning), /; the SIMULATED stand-in trainer skips validation instead\. Give the pool more samples/);
  },
);
