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

/**
 * Campaign "c" with one completed iteration. `outputDir` is its config's output.dir (default: an
 * absolute folder); `reportWritten` is the iteration report the worker recorded writing, as
 * finishIteration records it in the iteration's summary.
 */
async function pgliteCampaign(dir: string, opts: { outputDir?: string; reportWritten?: string } = {}): Promise<string> {
  const dbDir = path.join(dir, "db");
  const h = await openDatabase(`pglite:${dbDir}`);
  try {
    await migrateDatabase(h);
    const raw = {
      ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }),
      output: { dir: opts.outputDir ?? path.join(dir, "out") },
    };
    const frozen = freezeCampaignConfig(raw, { configDir: dir });
    assert.ok(frozen.ok);
    await insertCampaign(h.db, { id: "c", name: "cli", config: raw });
    await insertConfigVersion(h.db, "c", { version: 1, sha256: frozen.hash, frozen: frozen.frozen, appliesFromIteration: 1 });
    await upsertIteration(h.db, {
      campaignId: "c",
      iteration: 1,
      status: "completed",
      ...(opts.reportWritten ? { summary: { samples: {}, report: { path: opts.reportWritten } } } : {}),
    });
  } finally {
    await h.close();
  }
  return `pglite:${dbDir}`;
}

const run = (args: string[], databaseUrl: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl, ...opts.env },
    encoding: "utf8",
    timeout: 120_000,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });

/** Every file under dir, relative to it. */
const filesUnder = (dir: string): string[] =>
  (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));

test("report build without --base-dir writes into the campaign's own output folder (where the worker wrote its reports), not under the current folder", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-cli-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // The worker ran with --base-dir <dir>/worker; the config's output.dir is relative to it.
  const campaignDir = path.join(dir, "worker", ".toolloop", "output", "c");
  fs.mkdirSync(path.join(campaignDir, "iter-1"), { recursive: true });
  const url = await pgliteCampaign(dir, { outputDir: ".toolloop/output", reportWritten: path.join(campaignDir, "iter-1", "report.html") });
  const elsewhere = path.join(dir, "elsewhere");
  fs.mkdirSync(elsewhere);
  const noBaseDir = { TOOLLOOP_BASE_DIR: "" };

  const campaign = run(["report", "build", "c"], url, { cwd: elsewhere, env: noBaseDir });
  assert.equal(campaign.status, 0, campaign.stderr);
  assert.equal(campaign.stdout.trim(), path.join(campaignDir, "report.html"));
  assert.match(campaign.stderr, /wrote the campaign report to .*report\.html \(the campaign's output folder, where the worker wrote iteration 1's report\)/);
  const iteration = run(["report", "build", "c", "--iteration", "1"], url, { cwd: elsewhere, env: noBaseDir });
  assert.equal(iteration.status, 0, iteration.stderr);
  assert.equal(iteration.stdout.trim(), path.join(campaignDir, "iter-1", "report.html"));
  assert.deepEqual(filesUnder(elsewhere), [], "no stray copy under the current folder");
  // The campaign report's links to the iteration reports resolve beside it.
  assert.match(fs.readFileSync(path.join(campaignDir, "report.html"), "utf8"), /<a href="iter-1\/report\.html">/);

  // --base-dir still says where, when given.
  const given = run(["report", "build", "c", "--base-dir", path.join(dir, "other")], url, { cwd: elsewhere, env: noBaseDir });
  assert.equal(given.status, 0, given.stderr);
  assert.equal(given.stdout.trim(), path.join(dir, "other", ".toolloop", "output", "c", "report.html"));
  assert.match(given.stderr, /resolved against --base-dir /);
});

test("report build refuses (exit 2) when nothing says where a relative output.dir lives, unless --base-dir or TOOLLOOP_BASE_DIR does", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-cli-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // No iteration recorded writing its report (the report failed, or the first iteration still runs).
  const url = await pgliteCampaign(dir, { outputDir: ".toolloop/output" });
  const elsewhere = path.join(dir, "elsewhere");
  fs.mkdirSync(elsewhere);

  const unknown = run(["report", "build", "c"], url, { cwd: elsewhere, env: { TOOLLOOP_BASE_DIR: "" } });
  assert.equal(unknown.status, 2, unknown.stderr);
  assert.match(
    unknown.stderr,
    /campaign c has recorded no report yet, and its output\.dir "\.toolloop\/output" is relative to the worker's --base-dir.*pass --base-dir DIR/,
  );
  assert.deepEqual(filesUnder(elsewhere), []);

  const stated = run(["report", "build", "c"], url, { cwd: elsewhere, env: { TOOLLOOP_BASE_DIR: path.join(dir, "data") } });
  assert.equal(stated.status, 0, stated.stderr);
  assert.equal(stated.stdout.trim(), path.join(dir, "data", ".toolloop", "output", "c", "report.html"));
  assert.match(stated.stderr, /resolved against TOOLLOOP_BASE_DIR /);
});

test('report build of an iteration or a campaign that does not exist: only the error (exit 2), no "building" line before it and no file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-cli-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const url = await pgliteCampaign(dir);
  const out = path.join(dir, "r.html");
  for (const [args, message] of [
    [["c", "--iteration", "2"], "campaign c has no iteration 2"],
    [["c", "--iteration", "2", "--out", out], "campaign c has no iteration 2"],
    [["nope", "--out", out], 'no campaign "nope" in PostgreSQL'],
  ] as const) {
    const r = run(["report", "build", ...args], url);
    assert.equal(r.status, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`error: ${message}`), `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, `${args.join(" ")}: only the error line: ${r.stderr}`);
    assert.equal(r.stdout, "");
  }
  assert.equal(fs.existsSync(out), false);
});

test("report build --out in a folder that does not exist: an --out error (exit 2), and no folder is created", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-cli-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const url = await pgliteCampaign(dir);
  const missing = path.join(dir, "no-such-folder");
  const r = run(["report", "build", "c", "--out", path.join(missing, "x.html")], url);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /--out: the folder .*no-such-folder does not exist/);
  assert.equal(fs.existsSync(missing), false, "report build created the folder --out named");
});

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
