/**
 * `model list --iteration N | --last K`: a 12-iteration loop registers 48 versions (sft, checkpoint,
 * merged, served per iteration), 96 lines of `model list`; the operator asks for the ones that matter.
 * The CLI runs as a process against a PGlite database.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { versionsIn } from "../../../src/cli/model.js";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertCampaign } from "../../../src/db/repos/campaigns.js";
import { upsertModelVersion } from "../../../src/db/repos/modelVersions.js";
import type { ModelVersionKind } from "../../../src/db/schema.js";
import { CLI_MAIN } from "../../helpers/cli.js";
import { rawCampaign } from "../../helpers/selfEvolution.js";

const KINDS: ModelVersionKind[] = ["sft", "checkpoint", "merged", "served"];

test("versionsIn: one iteration, or the last k iterations that made versions; all without either", () => {
  const rows = [1, 1, 2, 3, 3, 5].map((iteration, i) => ({ iteration, i }));
  assert.deepEqual(
    versionsIn(rows, { iteration: 3 }).map((r) => r.i),
    [3, 4],
  );
  assert.deepEqual(
    versionsIn(rows, { last: 2 }).map((r) => r.i),
    [3, 4, 5],
    "iterations 3 and 5 (4 made none)",
  );
  assert.deepEqual(versionsIn(rows, { last: 99 }), rows);
  assert.deepEqual(versionsIn(rows, {}), rows);
  assert.deepEqual(versionsIn(rows, { iteration: 4 }), []);
});

test(
  "model list --iteration / --last on a 12-iteration campaign: its lines only; bad values and an iteration without versions are exit 2",
  { timeout: 120_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-model-list-"));
    try {
      const url = `pglite:${dir}`;
      const h = await openDatabase(url);
      await migrateDatabase(h);
      await insertCampaign(h.db, { id: "loop", name: "loop", config: rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }) });
      for (let it = 1; it <= 12; it++)
        for (const kind of KINDS)
          await upsertModelVersion(h.db, {
            campaignId: "loop",
            iteration: it,
            kind,
            baseModel: "base",
            path: kind === "served" ? null : `/out/iter-${it}/${kind}`,
            ...(kind === "served" ? { url: `http://127.0.0.1:1/v1`, servedModel: `loop-iter-${it}`, stoppedAt: new Date("2026-01-01T00:00:00Z") } : {}),
            simulated: true,
          });
      await h.close();
      const cli = (args: string[]) =>
        new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
          execFile(
            process.execPath,
            [CLI_MAIN, "model", "list", "loop", ...args],
            { encoding: "utf8", env: { ...process.env, DATABASE_URL: url } },
            (err, stdout, stderr) => resolve({ status: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr }),
          ),
        );
      const iterationsOf = (out: string) => [...new Set([...out.matchAll(/^iteration (\d+) /gm)].map((m) => Number(m[1])))];
      const all = await cli([]);
      assert.equal(all.status, 0, all.stderr);
      assert.equal(all.stdout.trimEnd().split("\n").length, 96, "two lines per version, 48 versions");
      const one = await cli(["--iteration", "12"]);
      assert.equal(one.status, 0, one.stderr);
      assert.deepEqual(iterationsOf(one.stdout), [12]);
      assert.equal(one.stdout.trimEnd().split("\n").length, 8);
      const last = await cli(["--last", "2", "--json"]);
      assert.deepEqual([...new Set((JSON.parse(last.stdout) as { iteration: number }[]).map((r) => r.iteration))], [11, 12]);
      const none = await cli(["--iteration", "13"]);
      assert.equal(none.status, 2);
      assert.match(none.stderr, /--iteration 13: campaign loop has no model version in iteration 13 \(it has some in iterations 1-12\)/);
      for (const bad of [
        ["--iteration", "0"],
        ["--last", "x"],
        ["--iteration", "2", "--last", "1"],
      ]) {
        const r = await cli(bad);
        assert.equal(r.status, 2, `${bad.join(" ")}: ${r.stderr}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
