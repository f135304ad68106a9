/**
 * `toolloop report build|serve` on bad places to write or listen: a clear error naming --out or
 * --port, exit code 2, and no temporary file left behind. The campaign lives in a PGlite folder the
 * CLI opens (DATABASE_URL=pglite:<dir>).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { freezeCampaignConfig } from "../../../src/config/frozen.js";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertConfigVersion } from "../../../src/db/repos/campaignConfigs.js";
import { insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { rawCampaign } from "../../helpers/selfEvolution.js";

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../src/cli/main.js");

async function pgliteCampaign(dir: string): Promise<string> {
  const dbDir = path.join(dir, "db");
  const h = await openDatabase(`pglite:${dbDir}`);
  try {
    await migrateDatabase(h);
    const raw = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), output: { dir: path.join(dir, "out") } };
    const frozen = freezeCampaignConfig(raw, { configDir: dir });
    assert.ok(frozen.ok);
    await insertCampaign(h.db, { id: "c", name: "cli", config: raw });
    await insertConfigVersion(h.db, "c", { version: 1, sha256: frozen.hash, frozen: frozen.frozen, appliesFromIteration: 1 });
    await upsertIteration(h.db, { campaignId: "c", iteration: 1, status: "completed" });
  } finally {
    await h.close();
  }
  return `pglite:${dbDir}`;
}

const run = (args: string[], databaseUrl: string) =>
  spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, DATABASE_URL: databaseUrl }, encoding: "utf8", timeout: 120_000 });

test("report build --out: a directory or a place that cannot be written is a clear --out error (exit 2), with no temporary file left", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-cli-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const url = await pgliteCampaign(dir);
  const target = path.join(dir, "a-folder");
  fs.mkdirSync(target);

  const intoDir = run(["report", "build", "c", "--out", target], url);
  assert.equal(intoDir.status, 2, intoDir.stderr);
  assert.match(intoDir.stderr, /--out: cannot write the report to .*a-folder: it is a directory/);
  assert.doesNotMatch(intoDir.stderr, /unexpected/);
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")),
    [],
    "no a-folder.<pid>.tmp left next to it",
  );

  const underFile = run(["report", "build", "c", "--out", path.join(dir, "db", "PG_VERSION", "r.html")], url);
  assert.equal(underFile.status, 2, underFile.stderr);
  assert.match(underFile.stderr, /--out: cannot write the report to .*r\.html: its folder cannot be created there/);

  const ok = run(["report", "build", "c", "--out", path.join(target, "r.html")], url);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), path.join(target, "r.html"));
  assert.match(fs.readFileSync(path.join(target, "r.html"), "utf8"), /<h1>Campaign c<\/h1>/);
});

test("report serve on a port in use: a clear --port error (exit 2)", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-cli-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const url = await pgliteCampaign(dir);
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as net.AddressInfo).port;
  const served = run(["report", "serve", "c", "--port", String(port)], url);
  assert.equal(served.status, 2, served.stderr);
  assert.match(served.stderr, new RegExp(`--port ${port}: 127\\.0\\.0\\.1:${port} is already in use`));
  assert.doesNotMatch(served.stderr, /unexpected/);
});

test("report serve --host: an address to listen on (0.0.0.0 for a container's published port), refused when it is not an IP address or not this machine's", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-cli-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const url = await pgliteCampaign(dir);

  const named = run(["report", "serve", "c", "--host", "reports.example"], url);
  assert.equal(named.status, 2, named.stderr);
  assert.match(named.stderr, /--host: expected an IP address to listen on .*got "reports\.example"/);
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): no interface of this machine has it.
  const elsewhere = run(["report", "serve", "c", "--host", "192.0.2.1", "--port", "0"], url);
  assert.equal(elsewhere.status, 2, elsewhere.stderr);
  assert.match(elsewhere.stderr, /--host 192\.0\.2\.1: no network interface of this machine has that address/);

  const child = spawn(process.execPath, [CLI, "report", "serve", "c", "--host", "0.0.0.0", "--port", "0"], {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("\n")) resolve(out);
    });
    child.on("exit", (code) => reject(new Error(`report serve exited ${code}: ${stderr}`)));
  });
  const port = Number(/http:\/\/0\.0\.0\.0:(\d+)\/report\.html/.exec(line)?.[1]);
  assert.ok(port > 0, line);
  assert.match(stderr, /listening on 0\.0\.0\.0: the reports have no access control/);
  // Reachable through every interface, loopback included.
  const res = await fetch(`http://127.0.0.1:${port}/report.html`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /<h1>Campaign c<\/h1>/);
  child.kill("SIGTERM");
  assert.equal(await new Promise((resolve) => child.once("exit", resolve)), 0);
});
