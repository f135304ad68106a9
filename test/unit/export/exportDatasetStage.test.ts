/**
 * The export.dataset stage run directly (no Temporal) over samples in real PostgreSQL, planned the way
 * the framework plans a selection: BFCL test items (a BFCL question, a BFCL function's signature) are
 * left out of the JSONL users take away and counted in the manifest and summary, as export.verl does;
 * switched off, or in a config frozen before the setting existed, the export is what it was.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { BFCL_FAST_CATEGORIES } from "../../../src/bfcl/categoryNames.js";
import type { CampaignConfig } from "../../../src/config/campaignConfig.js";
import { afterVerifyStageParser } from "../../helpers/configs.js";
import type { DbHandle } from "../../../src/db/client.js";
import { insertSamples, type NewSample } from "../../../src/db/repos/samples.js";
import { planSelection } from "../../../src/db/repos/stageBatchItems.js";
import type { McpTool } from "../../../src/domain/types.js";
import type { DatasetLine, DatasetManifest } from "../../../src/export/dataset.js";
import { buildStageContext } from "../../../src/framework/stageContext.js";
import type { StageContext } from "../../../src/framework/stage.js";
import { createRoleClient } from "../../../src/llm/client.js";
import type { UsageSink } from "../../../src/llm/usage.js";
import { exportDatasetHandler } from "../../../src/stages/export/dataset/handler.js";
import { exportDatasetSpec } from "../../../src/stages/export/dataset/spec.js";
import type { StageConfigOf } from "../../../src/stages/specs.js";
import { startStageResources, type StageResources } from "../../helpers/stageResources.js";

type ExportDatasetStage = StageConfigOf<"export.dataset">;

const { parse, configError } = afterVerifyStageParser("export.dataset");

test("export.dataset config: decontaminate on by default with export.verl's fields, bad values named by their path", () => {
  assert.deepEqual((parse({}).stages[1] as ExportDatasetStage).decontaminate, {
    enabled: true,
    categories: [...BFCL_FAST_CATEGORIES],
    threshold: 0.8,
    shingleSize: 3,
  });
  assert.match(
    configError({ decontaminate: { categories: ["multi_turn_base"] } }),
    /stages\[1\]\.decontaminate\.categories\[0\]: unknown or multi-turn BFCL category "multi_turn_base"/,
  );
  assert.match(configError({ decontaminate: { threshold: 0.1 } }), /stages\[1\]\.decontaminate\.threshold: expected a number between 0.3 and 1/);
  assert.match(configError({ decontaminate: { shingleSize: 9 } }), /stages\[1\]\.decontaminate\.shingleSize: expected at most 8/);
  assert.match(configError({ decontaminate: { enabled: "yes" } }), /stages\[1\]\.decontaminate\.enabled: expected true or false/);
  assert.match(configError({ decontaminate: { on: true } }), /stages\[1\]\.decontaminate/, "unknown keys are rejected");
});

const tool: McpTool = { name: "get_weather", description: "Weather now.", inputSchema: { type: "object", properties: { city: { type: "string" } } } };
const RUN = Date.now().toString(36);

function sampleRow(campaignId: string, i: number): NewSample {
  return {
    id: `${campaignId}-s${String(i).padStart(3, "0")}`,
    campaignId,
    iteration: 1,
    kind: "standard",
    origin: "synthesized",
    status: "verified",
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
  resources = await startStageResources("export-dataset", 3);
  ({ db, workDir } = resources);
});
after(async () => {
  await resources?.close();
});

function context(campaignId: string, config: CampaignConfig, logs: string[]): StageContext<ExportDatasetStage> {
  const deps = {
    db: db.db,
    baseDir: workDir,
    log: (m: string) => logs.push(m),
    createLlm: (cfg: CampaignConfig, role: string, usage: UsageSink) => createRoleClient(cfg, role, { usage }),
  };
  return buildStageContext({ campaignId, iteration: 1, config, stage: config.stages[1] as ExportDatasetStage, signal: new AbortController().signal, deps }).ctx;
}

async function runStage(campaignId: string, config: CampaignConfig, logs: string[] = []) {
  const ctx = context(campaignId, config, logs);
  const reads = exportDatasetSpec.reads;
  if (reads.kind !== "samples") return assert.fail("export.dataset reads a sample selection");
  await planSelection(db.db, { campaignId, iteration: 1, stage: "export.dataset" }, reads.selection(ctx.stage), ctx.stage.batchSize, reads.oneBatch ?? false);
  const batch = await exportDatasetHandler.runBatch(ctx, 0, { resumeFrom: undefined, report: () => undefined });
  const summary = await exportDatasetHandler.finalize!(ctx, [batch]);
  const dir = ctx.outputDir();
  const manifestText = await readFile(path.join(dir, "dataset.manifest.json"), "utf8");
  const lines = (await readFile(path.join(dir, "dataset.jsonl"), "utf8"))
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as DatasetLine);
  return { batch, summary, manifest: JSON.parse(manifestText) as DatasetManifest, lines };
}

test(
  "export.dataset leaves out BFCL test items (a BFCL question, a BFCL function's signature) and counts them; off, or in a config frozen before the setting, it exports them as before",
  { timeout: 120_000 },
  async () => {
    const campaignId = `dataset-decontam-${RUN}`;
    // simple_0 of BFCL v3: its question, and its function offered under its own name and parameters.
    const bfclQuery: NewSample = {
      ...sampleRow(campaignId, 900),
      messages: [
        { role: "user", content: "Find the area of a triangle with a base of 10 units and height of 5 units." },
        sampleRow(campaignId, 900).messages[1]!,
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
      ...sampleRow(campaignId, 901),
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
    const clean = Array.from({ length: 6 }, (_, i) => sampleRow(campaignId, i));
    await insertSamples(db.db, [...clean, bfclQuery, bfclSignature]);
    const cleanIds = clean.map((r) => r.id).sort();
    const allIds = [...cleanIds, bfclQuery.id, bfclSignature.id].sort();

    const logs: string[] = [];
    const on = await runStage(campaignId, parse({}), logs);
    assert.deepEqual(
      on.lines.map((l) => l.id),
      cleanIds,
      "the JSONL holds no BFCL test item",
    );
    assert.deepEqual(on.batch, { items: 8, rows: 6, contaminated: 2 });
    assert.deepEqual(on.summary, { rows: 6, contaminated: 2 });
    assert.equal(on.manifest.rows, 6);
    const d = on.manifest.decontamination;
    assert.ok(d?.enabled);
    assert.deepEqual([d.categories, d.threshold, d.shingleSize], [[...BFCL_FAST_CATEGORIES], 0.8, 3]);
    assert.deepEqual(d.excluded.byReason, { contaminated_query: 1, contaminated_signature: 1 });
    assert.deepEqual(
      d.excluded.examples.map((e) => [e.sampleId, e.reason, e.bfclId]),
      [
        [bfclQuery.id, "contaminated_query", "simple_0"],
        // The first BFCL entry (categories in name order) that has the signature.
        [bfclSignature.id, "contaminated_signature", "parallel_multiple_164"],
      ],
    );
    assert.match(
      logs.join("\n"),
      /\[export\.dataset\] .* iteration 1: left out 2 sample\(s\) that are BFCL test items \(contaminated_query 1, contaminated_signature 1; first: .*-s900 matches simple_0\)/,
    );

    // openai-strict rows are checked the same way.
    const strict = await runStage(campaignId, parse({ format: "openai-strict", decontaminate: { categories: ["simple"] } }));
    assert.equal(strict.lines.length, 6);
    assert.deepEqual(strict.manifest.decontamination?.enabled && strict.manifest.decontamination.excluded.byReason, {
      contaminated_query: 1,
      contaminated_signature: 1,
    });

    // Switched off: everything, the manifest saying it was off.
    const off = await runStage(campaignId, parse({ decontaminate: { enabled: false } }));
    assert.deepEqual(
      off.lines.map((l) => l.id),
      allIds,
    );
    assert.deepEqual(off.manifest.decontamination, { enabled: false });
    assert.deepEqual(off.summary, { rows: 8, contaminated: 0 });

    // A config frozen before the setting existed (no `decontaminate`): the rows, manifest and summary of before.
    const older = parse({});
    delete (older.stages[1] as Partial<ExportDatasetStage>).decontaminate;
    const old = await runStage(campaignId, older);
    assert.deepEqual(
      old.lines.map((l) => l.id),
      allIds,
    );
    assert.equal("decontamination" in old.manifest, false, "the manifest of before: no decontamination key");
    assert.deepEqual(old.batch, { items: 8, rows: 8 });
    assert.deepEqual(old.summary, { rows: 8 });
  },
);
