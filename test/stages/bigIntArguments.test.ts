/**
 * A label whose tool call carries an integer above 2^53 (an order id: 12345678901234567890), as the
 * model wrote it in `function.arguments` (a JSON string). JSON.parse reads it as
 * 12345678901234567000, so every place that parses a label's arguments and writes them back must
 * keep the model's text. Here end to end over PGlite: the stored row and the sample id, verify.rules,
 * dedupe.exact (two labels that differ only past double precision are two samples),
 * export.dataset's JSONL line, and export.verl's train.parquet row (ground truth, prompt) and SFT set.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { tableFromIPC } from "apache-arrow";
import { eq } from "drizzle-orm";
import { readParquet } from "parquet-wasm";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { insertSamples, type NewSample } from "../../src/db/repos/samples.js";
import { samples } from "../../src/db/schema.js";
import type { ChatMessage, McpTool } from "../../src/domain/types.js";
import { exactDuplicateKey } from "../../src/dedupe/exactKey.js";
import { dedupeExactHandler } from "../../src/stages/dedupe/exact/handler.js";
import { exportDatasetHandler } from "../../src/stages/export/dataset/handler.js";
import { exportVerlHandler } from "../../src/stages/export/verl/handler.js";
import { verifyRulesHandler } from "../../src/stages/verify/rules/handler.js";
import { sampleId } from "../../src/util/ids.js";
import { pgliteForTest } from "../helpers/pgliteForTest.js";
import { normalizeTools } from "../../src/tools/library.js";
import { parseJsonExact } from "../../src/util/exactJson.js";
import { planAndRun, rawCampaign, stageContext } from "../helpers/selfEvolution.js";

/** As the tool library loads it from a file whose bound no double holds (its JSON text would be 98765432109876540000). */
const BOUND = "98765432109876543210";
const ORDER_TOOL: McpTool = normalizeTools(
  parseJsonExact(
    `{"name": "cancel_order", "description": "Cancel an order by its id.", "inputSchema": {"type": "object", "properties": {"order_id": {"type": "integer", "maximum": ${BOUND}}, "reason": {"type": "string"}}, "required": ["order_id"]}}`,
  ),
  "orders.json",
).tools[0]!.tool;

/** What the model wrote: the id's digits as they are, not as a double rounds them. */
const argumentsText = (id: string) => `{"order_id": ${id}, "reason": "duplicate charge"}`;
const ID = "12345678901234567890";
const NEIGHBOUR = "12345678901234567891"; // the same double as ID

function sampleWith(campaignId: string, id: string): NewSample {
  const messages: ChatMessage[] = [
    { role: "user", content: "Cancel my order please, it was charged twice." },
    { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "cancel_order", arguments: argumentsText(id) } }] },
  ];
  const tools = [ORDER_TOOL];
  return {
    id: sampleId(campaignId, { messages, tools }),
    campaignId,
    iteration: 1,
    kind: "standard",
    origin: "synthesized",
    status: "pending",
    tools,
    messages,
  };
}

test(
  "an integer above 2^53 in a label's arguments survives storage, verification, dedupe and every export as the model wrote it",
  { timeout: 120_000 },
  async (t) => {
    assert.equal(JSON.parse(ID), JSON.parse(NEIGHBOUR), "the two ids are one double");
    const { db, dir } = await pgliteForTest(t, "bigint-args");
    const campaignId = "bigint";
    const parsed = parseCampaignConfig(
      rawCampaign({
        simUrl: "http://127.0.0.1:1/v1",
        stages: [{ name: "verify.rules" }, { name: "dedupe.exact" }, { name: "export.dataset" }, { name: "export.verl", valFraction: 0, sft: true }],
      }),
    );
    assert.ok(parsed.ok);
    const config = parsed.config;
    const one = sampleWith(campaignId, ID);
    const other = sampleWith(campaignId, NEIGHBOUR);
    assert.notEqual(one.id, other.id, "sample ids hash the arguments' text");
    await insertSamples(db.db, [one, other]);

    // The stored row holds the model's text.
    const stored = await db.db
      .select()
      .from(samples)
      .where(eq(samples.id, one.id as string));
    const storedLabel = (stored[0]!.messages as ChatMessage[])[1] as Extract<ChatMessage, { role: "assistant" }>;
    assert.equal(storedLabel.tool_calls![0]!.function.arguments, argumentsText(ID));

    await planAndRun(db.db, stageContext(db.db, dir, campaignId, config, "verify.rules"), verifyRulesHandler as never);
    const xctx = stageContext(db.db, dir, campaignId, config, "dedupe.exact");
    await dedupeExactHandler.finalize!(xctx as never, await planAndRun(db.db, xctx, dedupeExactHandler as never));
    assert.notEqual(exactDuplicateKey(one as never), exactDuplicateKey(other as never));
    const statuses = await db.db.select({ id: samples.id, status: samples.status }).from(samples).where(eq(samples.campaignId, campaignId));
    assert.deepEqual(
      statuses.map((s) => s.status),
      ["verified", "verified"],
      "both labels pass the rules, and differ: neither is a duplicate of the other",
    );

    // export.dataset: the JSONL line's label is the model's text.
    const dctx = stageContext(db.db, dir, campaignId, config, "export.dataset");
    const dbatches = await planAndRun(db.db, dctx, exportDatasetHandler as never);
    await exportDatasetHandler.finalize!(dctx as never, dbatches);
    const lines = (await readFile(path.join(dctx.outputDir(), "dataset.jsonl"), "utf8")).trim().split("\n");
    const line = lines.find((l) => l.includes(one.id as string)) ?? lines.find((l) => l.includes(ID));
    assert.ok(line, "the sample's line");
    assert.ok(line.includes(JSON.stringify(argumentsText(ID))), `the label's arguments as written: ${line}`);
    // ...and its tool's schema bound as the tool file wrote it, the record of the digits not shown.
    assert.ok(line.includes(`"maximum":${BOUND}`) && !line.includes("x-toolloop"), line);

    // export.verl: ground truth and the SFT label carry the id's digits; the sample id is the stored one.
    const vctx = stageContext(db.db, dir, campaignId, config, "export.verl");
    const vbatches = await planAndRun(db.db, vctx, exportVerlHandler as never);
    await exportVerlHandler.finalize!(vctx as never, vbatches);
    const verlDir = path.join(vctx.outputDir(), "verl");
    const table = tableFromIPC(readParquet(new Uint8Array(await readFile(path.join(verlDir, "train.parquet")))).intoIPCStream());
    const rows = table.toArray().map((r) => r.toJSON() as { reward_model: { ground_truth: string }; extra_info: { sample_id: string } });
    const row = rows.find((r) => String(r.extra_info.sample_id) === one.id);
    assert.ok(row, "the sample's train row");
    assert.match(row.reward_model.ground_truth, new RegExp(`"order_id":${ID}[,}]`), row.reward_model.ground_truth);
    const neighbourRow = rows.find((r) => String(r.extra_info.sample_id) === other.id);
    assert.match(neighbourRow!.reward_model.ground_truth, new RegExp(`"order_id":${NEIGHBOUR}[,}]`));
    // The row's tools (its tools column and the Hermes system prompt) show the schema bound's digits.
    const rowText = JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    assert.ok(rowText.includes(`\\"maximum\\": ${BOUND}`) && rowText.includes(`\\"maximum\\":${BOUND}`), rowText);
    assert.ok(!rowText.includes("98765432109876540000") && !rowText.includes("x-toolloop"), rowText);
    // sft.parquet's label turn is the call as the chat template renders it (Python's json.dumps of the parsed arguments).
    const sftTable = tableFromIPC(readParquet(new Uint8Array(await readFile(path.join(verlDir, "sft.parquet")))).intoIPCStream());
    const labelTurns = sftTable
      .toArray()
      .flatMap((r) => [...(r.toJSON() as { messages: Iterable<{ content: string; weight: number | null }> }).messages])
      .filter((m) => m.weight === 1)
      .map((m) => String(m.content));
    assert.equal(labelTurns.length, 2);
    for (const id of [ID, NEIGHBOUR])
      assert.ok(
        labelTurns.some((c) => c.includes(`{"name": "cancel_order", "arguments": {"order_id": ${id}, "reason": "duplicate charge"}}`)),
        `the SFT label turn with ${id}: ${labelTurns.join(" | ")}`,
      );
    // sft.jsonl keeps the stored messages, the arguments' text as written.
    const sftJsonl = await readFile(path.join(verlDir, "sft.jsonl"), "utf8");
    assert.ok(sftJsonl.includes(JSON.stringify(argumentsText(ID))));
    assert.ok(sftJsonl.includes(`"maximum":${BOUND}`), "sft.jsonl's tools carry the schema bound's digits");
  },
);
