/**
 * The production image's runtime layout, without a Docker engine: the Dockerfile's final stage is
 * assembled from its COPY steps into a temp folder (test/helpers/dockerfileLayout.ts) and the
 * image's commands run there with its ENV: `--help`, `db migrate` on a fresh database, `worker`
 * (connects, and the image's HEALTHCHECK command then reports it healthy), and `campaign start`
 * against the LLM simulator started from the same layout. Nothing may be written under the
 * installation folder (the image runs as a non-root user that cannot write there).
 * Needs TEMPORAL_ADDRESS and DATABASE_URL (the suite's services).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { assembleFinalStage, type AssembledImage } from "../helpers/dockerfileLayout.js";
import { simulatorCampaign } from "../helpers/configs.js";

const CHECKOUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const temporalAddress = process.env.TEMPORAL_ADDRESS;
const databaseUrl = process.env.DATABASE_URL;
const skip = !temporalAddress || !databaseUrl ? "needs TEMPORAL_ADDRESS and DATABASE_URL (scripts/test.sh starts them)" : false;

let tmp: string;
let image: AssembledImage;
let env: NodeJS.ProcessEnv;
let filesBefore: string[];
const children: ChildProcess[] = [];

/** Files under the installation folder, not following the symlinked node_modules and venvs. */
function listFiles(dir: string, prefix = ""): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(prefix, e.name);
    return e.isDirectory() ? listFiles(path.join(dir, e.name), rel) : [rel];
  });
}

/** The image's ENTRYPOINT with its in-image paths mapped to the assembled folder. */
function entrypoint(): string[] {
  const ep = image.stage.entrypoint ?? [];
  return ep.map((a) => (a.startsWith("/") ? image.local(a) : a));
}

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}, timeout = 120_000) {
  const [cmd = "node", ...rest] = entrypoint();
  return spawnSync(cmd, [...rest, ...args], { cwd: image.root, env: { ...env, ...extraEnv }, encoding: "utf8", timeout });
}

function start(
  argv: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): { child: ChildProcess; output: () => string; waitFor: (re: RegExp, ms: number) => Promise<RegExpMatchArray> } {
  const child: ChildProcess = spawn(argv[0] ?? "node", argv.slice(1), { cwd: image.root, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const waitFor = async (re: RegExp, ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(out);
      if (m) return m;
      if (child.exitCode !== null) throw new Error(`${argv.join(" ")} exited ${child.exitCode} before printing ${re}:\n${out}`);
      if (Date.now() > deadline) throw new Error(`${argv.join(" ")} did not print ${re} within ${ms} ms:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, output: () => out, waitFor };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

before(() => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-image-layout-"));
  image = assembleFinalStage({
    dockerfile: path.join(CHECKOUT, "Dockerfile"),
    checkout: CHECKOUT,
    into: tmp,
    linkInsteadOfCopy: ["node_modules", ".venv-bfcl", ".venv-train"],
    inheritedEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  const dataDir = image.local("/data");
  fs.mkdirSync(path.join(dataDir, "state"), { recursive: true });
  // The image's ENV with in-image paths mapped; the services from the suite's environment.
  const mapped = Object.fromEntries(
    Object.entries(image.stage.env).map(([k, v]) => [
      k,
      v
        .split(":")
        .map((p) => (p.startsWith(image.stage.workdir) || p.startsWith("/data") ? image.local(p) : p))
        .join(":"),
    ]),
  );
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...mapped,
    TEMPORAL_ADDRESS: temporalAddress,
    DATABASE_URL: databaseUrl,
    TOOLLOOP_QUEUE_PREFIX: `t-image-${process.pid}`,
  };
  filesBefore = listFiles(image.root);
});

after(async () => {
  for (const c of children) await stop(c);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test("the final stage runs as a non-root user with a worker HEALTHCHECK and the CLI as entrypoint", { skip }, () => {
  assert.equal(image.stage.user, "node");
  assert.equal(env.TOOLLOOP_BASE_DIR, image.local("/data"), "the image's default --base-dir is its writable /data");
  assert.deepEqual(image.stage.entrypoint, ["node", "/app/dist/src/cli/main.js"]);
  assert.deepEqual(image.stage.cmd, ["worker", "--base-dir", "/data"]);
  assert.deepEqual(image.stage.healthcheck, ["node", "/app/dist/src/ops/workerHealthcheck.js"]);
  for (const needed of [
    "dist/src/cli/main.js",
    "migrations/meta/_journal.json",
    "scripts/bfcl/eval_cli.py",
    "trainer/standin/standin_trainer.py",
    "data/bfcl/data",
  ]) {
    assert.ok(fs.existsSync(path.join(image.root, needed)), `${needed} is in the image`);
  }
  // The default `cluster.python: "python3"` resolves to the training venv (pyarrow for the stand-in trainer).
  assert.equal(env.PATH?.split(":")[0], path.join(image.root, ".venv-train", "bin"));
});

test("runtime code imports no devDependency (the image's node_modules is pruned with --omit=dev)", { skip }, () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(CHECKOUT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
  const dev = Object.keys(pkg.devDependencies);
  const offenders: string[] = [];
  for (const dir of ["src", "workers", "activities", "workflows"]) {
    for (const rel of listFiles(path.join(image.root, "dist", dir)).filter((f) => f.endsWith(".js"))) {
      const code = fs.readFileSync(path.join(image.root, "dist", dir, rel), "utf8");
      for (const m of code.matchAll(/(?:from\s+|import\s*\(\s*)["']([^"'./][^"']*)["']/g)) {
        const spec = m[1] ?? "";
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] ?? "");
        if (dev.includes(name)) offenders.push(`dist/${dir}/${rel}: ${spec}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

test("--help runs from the image layout", { skip }, () => {
  const r = run(["--help"]);
  assert.equal(r.status, 0, `${r.error?.message ?? ""}${r.stderr}`);
  assert.match(r.stdout, /campaign/);
  assert.match(r.stdout, /worker/);
});

test("`toolloop` is on the image's PATH (the command the README and the CLI's hints name)", { skip }, () => {
  const r = spawnSync("toolloop", ["--help"], { cwd: os.tmpdir(), env, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, `${r.error?.message ?? ""}${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^Usage: toolloop /);
});

test("db migrate creates toolloop's tables in a fresh database", { skip }, async () => {
  const dbName = `image_layout_${process.pid}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    const url = new URL(databaseUrl as string);
    url.pathname = `/${dbName}`;
    const r = run(["db", "migrate"], { DATABASE_URL: url.toString() });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const fresh = new pg.Client({ connectionString: url.toString() });
    await fresh.connect();
    try {
      const tables = await fresh.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
      const names = tables.rows.map((t) => t.tablename);
      for (const t of ["campaigns", "samples"]) assert.ok(names.includes(t), `table ${t} after db migrate (have ${names.join(", ")})`);
    } finally {
      await fresh.end();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
});

test("worker connects, the HEALTHCHECK command tells a polling worker from none, and campaign start completes on the simulator", { skip }, async () => {
  const health = () =>
    spawnSync(
      image.stage.healthcheck?.[0] as string,
      (image.stage.healthcheck ?? []).slice(1).map((a) => (a.startsWith("/") ? image.local(a) : a)),
      { cwd: image.root, env, encoding: "utf8", timeout: 30_000 },
    );
  const before = health();
  assert.equal(before.status, 1, `no worker yet: ${before.stdout}${before.stderr}`);
  assert.match(before.stdout, /^unhealthy: no worker on /);

  const dataDir = image.local("/data");
  const worker = start([...entrypoint(), "worker", "--base-dir", dataDir]);
  await worker.waitFor(/^worker: .* on /m, 60_000);
  let healthy = health();
  for (let i = 0; healthy.status !== 0 && i < 20; i++) {
    await new Promise((r) => setTimeout(r, 500));
    healthy = health();
  }
  assert.equal(healthy.status, 0, `${healthy.stdout}${healthy.stderr}\nworker:\n${worker.output()}`);
  assert.match(healthy.stdout, /^healthy: \d+@/);

  const [node = "node", cli = ""] = entrypoint();
  const sim = start([node, path.join(path.dirname(cli), "../llm/simulator/main.js"), "--port", "0", "--seed", "3"]);
  const [, simUrl = ""] = await sim.waitFor(/listening on (http:\/\/\S+\/v1)/, 30_000);
  // A small campaign that also reads the image's BFCL data (evaluate.bfclFast on data/bfcl).
  const config = simulatorCampaign(simUrl, { count: 20, batchSize: 10 });
  config.roles = { ...config.roles, policy: { endpoint: "sim", model: "toolloop-sim-policy", temperature: 0 } };
  config.stages = [...(config.stages as object[]), { name: "evaluate.bfclFast", categories: ["simple"], limitPerCategory: 5, batchSize: 5 }];
  const configFile = path.join(dataDir, "image-layout.campaign.json");
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const campaignId = `image-layout-${process.pid}`;
  const r = run(["campaign", "start", "--config", configFile, "--id", campaignId, "--wait"], {}, 300_000);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}\nworker:\n${worker.output()}`);
  assert.match(r.stdout, new RegExp(`workflow id: .*${campaignId}`));

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const samples = await db.query<{ n: string }>("SELECT count(*) AS n FROM samples WHERE campaign_id = $1", [campaignId]);
    assert.ok(Number(samples.rows[0]?.n) > 0, "the campaign wrote samples");
    const scores = await db.query<{ n: string }>("SELECT count(*) AS n FROM bfcl_scores WHERE campaign_id = $1", [campaignId]);
    assert.ok(Number(scores.rows[0]?.n) > 0, "evaluate.bfclFast scored the image's BFCL data");
  } finally {
    await db.end();
  }
  // `report build` without --base-dir (as `docker compose run ... report build ID` runs it): beside the
  // worker's outputs under /data, not under the read-only /app it starts in.
  const report = run(["report", "build", campaignId]);
  assert.equal(report.status, 0, `${report.stdout}\n${report.stderr}`);
  const reportFile = report.stdout.trim();
  assert.ok(reportFile.startsWith(`${dataDir}${path.sep}`) && reportFile.endsWith(path.join(campaignId, "report.html")), reportFile);
  assert.ok(fs.existsSync(reportFile), reportFile);
  const status = run(["campaign", "status", campaignId]);
  assert.equal(status.status, 0, `${status.stdout}\n${status.stderr}`);
  await stop(worker.child);
  await stop(sim.child);
  // The non-root user cannot write under /app: the run must not have tried to.
  assert.deepEqual(listFiles(image.root), filesBefore, "nothing written under the installation folder");
});
