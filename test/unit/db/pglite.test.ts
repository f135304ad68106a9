/** Smoke test of the embedded default: migrations and the repositories on PGlite. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertCampaign } from "../../../src/db/repos/campaigns.js";
import { countSamples, insertSamples, pageSamples, setVerdicts } from "../../../src/db/repos/samples.js";
import { insertSlotOutcomes, settledSlots } from "../../../src/db/repos/slotOutcomes.js";
import { beginStageRun, finishStageRun, getStageRun, listDoneBatches, recordBatchDone } from "../../../src/db/repos/stages.js";
import { upsertLlmRequests, type LlmRequestRow } from "../../../src/db/repos/usage.js";
import { llmUsage } from "../../../src/db/schema.js";
import { sampleId } from "../../../src/util/ids.js";

test("PGlite: migrations apply twice, repositories write idempotently", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    await migrateDatabase(h); // idempotent
    await insertCampaign(h.db, { id: "c", name: "c", config: { a: 1 } });
    const tools = [{ name: "t", description: "d", inputSchema: { type: "object" as const, properties: {} } }];
    const rows = [0, 1, 2].map((i) => {
      const messages = [{ role: "user" as const, content: `q${i}` }];
      return {
        id: sampleId("c", { messages, tools }),
        campaignId: "c",
        iteration: 1,
        kind: "standard",
        origin: "synthesized",
        slotKey: `c/1/s/${i}`,
        messages,
        tools,
      };
    });
    assert.equal((await insertSamples(h.db, rows)).size, 3);
    assert.equal((await insertSamples(h.db, rows)).size, 0, "second insert writes nothing");
    const outcome = { campaignId: "c", iteration: 1, stage: "s", detail: "model failed" } as const;
    await insertSlotOutcomes(h.db, [{ ...outcome, slotKey: "c/1/s/7", slot: 7, outcome: "failed" }]);
    await insertSlotOutcomes(h.db, [{ ...outcome, slotKey: "c/1/s/7", slot: 7, outcome: "duplicate" }]);
    assert.deepEqual(
      [...(await settledSlots(h.db, ["c/1/s/0", "c/1/s/7", "c/1/s/9"]))],
      [
        ["c/1/s/0", "written"],
        ["c/1/s/7", "failed"],
      ],
      "a slot's first outcome stays; unsettled slots are absent",
    );
    await setVerdicts(h.db, [{ id: rows[0]!.id, status: "rejected", verdicts: [{ verifier: "rules", ok: false, reasons: ["x"] }] }]);
    assert.deepEqual(await countSamples(h.db, "c", 1), { pending: 2, rejected: 1 });
    const page = await pageSamples(h.db, { campaignId: "c", iteration: 1, limit: 2 });
    assert.equal(page.length, 2);
    assert.ok((page[0]?.id ?? "") < (page[1]?.id ?? ""));

    const key = { campaignId: "c", iteration: 1, stage: "verify.rules" };
    await beginStageRun(h.db, key, 3, 5);
    await recordBatchDone(h.db, key, 1, { items: 5 });
    await recordBatchDone(h.db, key, 1, { items: 5 });
    assert.deepEqual(await listDoneBatches(h.db, key), [{ batchIndex: 1, result: { items: 5 } }]);
    await finishStageRun(h.db, key, "failed", null, "boom");
    await beginStageRun(h.db, key, 3, 5);
    const run = await getStageRun(h.db, key);
    assert.equal(run?.status, "running");
    assert.equal(run?.attempts, 2, "a re-run after failure counts an attempt");

    const req = (id: string, status: LlmRequestRow["status"], promptTokens = 0): LlmRequestRow => ({
      id,
      ...key,
      batchIndex: 0,
      role: "generator",
      model: "m",
      status,
      promptTokens,
      completionTokens: promptTokens ? 5 : 0,
      finished: status !== "sent",
    });
    await upsertLlmRequests(h.db, [req("r1", "sent"), req("r2", "sent"), req("r3", "sent")]);
    await upsertLlmRequests(h.db, [req("r1", "ok", 10), req("r2", "failed")]);
    // Replays of the same writes (a flush retried after a connection drop) change nothing.
    await upsertLlmRequests(h.db, [req("r1", "sent"), req("r2", "sent"), req("r3", "sent")]);
    await upsertLlmRequests(h.db, [req("r1", "ok", 10)]);
    const usage = await h.db.select().from(llmUsage);
    assert.equal(usage.length, 1);
    assert.equal(usage[0]?.requests, 3);
    assert.equal(usage[0]?.promptTokens, 10);
    assert.equal(usage[0]?.failures, 1);
    assert.equal(usage[0]?.outcomeUnknown, 1, "r3 was sent and never completed");
  } finally {
    await h.close();
  }
});

test("insertSamples: rows sharing tool objects store the same tools as rows carrying their own", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    await insertCampaign(h.db, { id: "c", name: "c", config: { a: 1 } });
    const a = { name: "a", description: "first", inputSchema: { type: "object" as const, properties: { x: { type: "string" } }, required: ["x"] } };
    const b = { name: "b", description: 'line\nbreak "quoted"', inputSchema: { type: "object" as const, properties: {} } };
    const toolLists = [[a, b], [b, a, a], [], [a], [{ ...a }, b]];
    const rows = toolLists.map((tools, i) => {
      const messages = [{ role: "user" as const, content: `q${i}` }];
      return { id: sampleId("c", { messages, tools }), campaignId: "c", iteration: 1, kind: "standard", origin: "synthesized", messages, tools };
    });
    assert.equal((await insertSamples(h.db, rows)).size, rows.length);
    const stored = new Map((await pageSamples(h.db, { campaignId: "c", iteration: 1, limit: 10 })).map((r) => [r.id, r.tools]));
    for (const r of rows) assert.deepEqual(stored.get(r.id), r.tools, `tools of ${r.id}, in order, repeats kept`);
  } finally {
    await h.close();
  }
});
