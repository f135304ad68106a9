/**
 * What the report's numbers count, checked on PGlite against rows whose answer is known: rejection
 * reasons count rejected samples (not reasons), score histograms count scores per iteration (a
 * sample scored in several iterations is scored by several policies), and a failed stage is named.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { freezeCampaignConfig } from "../../../src/config/frozen.js";
import { migrateDatabase, openDatabase, type DbHandle } from "../../../src/db/client.js";
import { insertConfigVersion } from "../../../src/db/repos/campaignConfigs.js";
import { insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { samples } from "../../../src/db/schema.js";
import { gatherReportData } from "../../../src/reports/data.js";
import { reportCharts } from "../../../src/reports/html.js";
import { rawCampaign } from "../../helpers/selfEvolution.js";

const TOOL = { name: "get_weather", description: "d", inputSchema: { type: "object" as const, properties: {} } };

async function campaignDb(t: { after: (fn: () => Promise<void>) => void }): Promise<DbHandle> {
  const h = await openDatabase("pglite:memory");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-counts-"));
  t.after(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await migrateDatabase(h);
  const raw = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), seed: 1, iterations: 3 };
  const frozen = freezeCampaignConfig(raw, { configDir: dir });
  assert.ok(frozen.ok);
  await insertCampaign(h.db, { id: "c", name: "counts", config: raw });
  await insertConfigVersion(h.db, "c", { version: 1, sha256: frozen.hash, frozen: frozen.frozen, appliesFromIteration: 1 });
  await upsertIteration(h.db, { campaignId: "c", iteration: 1, status: "completed" });
  return h;
}

const rejected = (id: string, reasons: string[]) => ({
  id,
  campaignId: "c",
  iteration: 1,
  kind: "parallel",
  origin: "synthesized",
  stage: "synthesize.singleTurn",
  messages: [{ role: "user" as const, content: id }],
  tools: [TOOL],
  status: "rejected" as const,
  verdicts: [{ verifier: "rules", ok: false, reasons }],
});

test("rejection reasons count rejected samples: the same reason for two calls of one sample counts once", async (t) => {
  const { db } = await campaignDb(t);
  await db
    .insert(samples)
    .values([
      rejected("s1", ["call[0] missing required parameter <city>", "call[1] missing required parameter <city>"]),
      rejected("s2", ["call[0] missing required parameter <city>"]),
      rejected("s3", ["call[0] missing required parameter <city>", "call[1] unknown parameter <x>"]),
    ]);
  const d = await gatherReportData(db, { campaignId: "c" });
  assert.deepEqual(d.rejectionReasons, [
    { reason: "rules: missing required parameter <city>", n: 3 },
    { reason: "rules: unknown parameter <x>", n: 1 },
  ]);
  const chart = reportCharts(d).charts.find((c) => c.title === "Rejection reasons");
  assert.equal(chart?.config.data.datasets[0]?.label, "rejected samples");
  // No bar can exceed the samples rejected.
  const rejectedSamples = d.funnel.filter((f) => f.status === "rejected").reduce((s, f) => s + f.n, 0);
  assert.equal(rejectedSamples, 3);
  for (const r of d.rejectionReasons) assert.ok(r.n <= rejectedSamples, `${r.reason}: ${r.n} > ${rejectedSamples}`);
});
