/** The demo's campaign summaries, on PGlite: grouping, ordering, the reason prefix, and the campaign filter. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { datasetExportsOf, sampleCountsByKindAndStatus, topRejectionReasons, usageByRoleAndModel } from "../../../src/db/repos/reports.js";
import { insertSamples, setVerdicts } from "../../../src/db/repos/samples.js";
import { upsertLlmRequests, type LlmRequestRow } from "../../../src/db/repos/usage.js";
import { datasetExports } from "../../../src/db/schema.js";
import type { SampleKind } from "../../../src/domain/types.js";
import { sampleId } from "../../../src/util/ids.js";

test("reports: sample counts, top rejection reasons, usage by role and dataset exports of one campaign", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const tools = [{ name: "t", description: "d", inputSchema: { type: "object" as const, properties: {} } }];
    const sample = (campaignId: string, iteration: number, kind: SampleKind, i: number) => {
      const messages = [{ role: "user" as const, content: `${kind} ${i}` }];
      return { id: sampleId(campaignId, { messages, tools }), campaignId, iteration, kind, origin: "synthesized", messages, tools };
    };
    const rows = [
      sample("c", 2, "standard", 0),
      sample("c", 1, "standard", 1),
      sample("c", 1, "standard", 2),
      sample("c", 1, "parallel", 3),
      sample("c", 1, "parallel", 4),
      sample("other", 1, "standard", 5),
    ];
    await insertSamples(h.db, rows);
    const reject = (id: string, reasons: string[]) => ({ id, status: "rejected" as const, verdicts: [{ verifier: "rules", ok: false, reasons }] });
    await setVerdicts(h.db, [
      reject(rows[1]!.id, ['call[0] argument "city": must be string', 'call[1] unknown tool "x"']),
      reject(rows[3]!.id, ['call[2] argument "city": must be string']),
      reject(rows[5]!.id, ["only in the other campaign"]),
      { id: rows[2]!.id, status: "verified", verdicts: [{ verifier: "rules", ok: true, reasons: [] }] },
    ]);

    assert.deepEqual(await sampleCountsByKindAndStatus(h.db, "c"), [
      { iteration: 1, kind: "parallel", status: "pending", n: 1 },
      { iteration: 1, kind: "parallel", status: "rejected", n: 1 },
      { iteration: 1, kind: "standard", status: "rejected", n: 1 },
      { iteration: 1, kind: "standard", status: "verified", n: 1 },
      { iteration: 2, kind: "standard", status: "pending", n: 1 },
    ]);

    // The call index is dropped, so the same problem in different calls and samples counts together.
    assert.deepEqual(await topRejectionReasons(h.db, "c"), [
      { reason: 'argument "city": must be string', n: 2 },
      { reason: 'unknown tool "x"', n: 1 },
    ]);
    assert.deepEqual(await topRejectionReasons(h.db, "c", 1), [{ reason: 'argument "city": must be string', n: 2 }]);

    const req = (id: string, campaignId: string, iteration: number, role: string, promptTokens: number): LlmRequestRow => ({
      id,
      campaignId,
      iteration,
      stage: "s",
      batchIndex: 0,
      role,
      model: "m",
      status: "ok",
      promptTokens,
      completionTokens: 1,
      finished: true,
    });
    await upsertLlmRequests(h.db, [
      req("r1", "c", 1, "writer", 10),
      req("r2", "c", 2, "writer", 20),
      req("r3", "c", 1, "agent", 5),
      req("r4", "other", 1, "agent", 100),
    ]);
    assert.deepEqual(await usageByRoleAndModel(h.db, "c"), [
      { role: "agent", model: "m", requests: 1, promptTokens: 5, completionTokens: 1 },
      { role: "writer", model: "m", requests: 2, promptTokens: 30, completionTokens: 2 },
    ]);

    await h.db.insert(datasetExports).values([
      { campaignId: "c", iteration: 2, path: "/out/2.jsonl", manifest: { rows: 7, sha256: "ab" } },
      { campaignId: "c", iteration: 1, path: "/out/1.jsonl", manifest: {} },
      { campaignId: "other", iteration: 1, path: "/x.jsonl", manifest: { rows: 1 } },
    ]);
    assert.deepEqual(await datasetExportsOf(h.db, "c"), [
      { iteration: 1, path: "/out/1.jsonl", rows: null, sha256: null },
      { iteration: 2, path: "/out/2.jsonl", rows: "7", sha256: "ab" },
    ]);
  } finally {
    await h.close();
  }
});
