/**
 * Upgrading toolloop on an existing database: a worker of the newer version on the previous schema
 * (its latest migration not applied yet) refuses to start, naming `db migrate` and the missing
 * migration, instead of failing each activity that touches a new column; a CLI command that reads a
 * missing table says the same instead of "Failed query ... (unexpected)". After `db migrate` the
 * worker starts. Two `db migrate` at once on a new database (hosts that each migrate before their
 * worker starts) both succeed. Needs DATABASE_URL (a PostgreSQL server; a database per test is created on it) and
 * TEMPORAL_ADDRESS (the worker checks Temporal first).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { MIGRATIONS_DIR, migrateDatabase, openDatabase } from "../../src/db/client.js";
import { pendingEntries, pendingMigrationsMessage, readJournal, schemaState } from "../../src/db/schemaVersion.js";
import { thisBuild } from "../../src/ops/workerBuilds.js";
import { CLI_MAIN, runCli } from "../helpers/cli.js";

const databaseUrl = process.env.DATABASE_URL;
const temporalAddress = process.env.TEMPORAL_ADDRESS;
const skip =
  !databaseUrl?.startsWith("postgres") || !temporalAddress ? "needs a postgres:// DATABASE_URL and TEMPORAL_ADDRESS (scripts/test.sh starts them)" : false;

const shipped = readJournal(MIGRATIONS_DIR);
const latest = shipped.at(-1);
const names = { previous: `schema_prev_${process.pid}`, empty: `schema_empty_${process.pid}`, fresh: `schema_fresh_${process.pid}` };
let urls: { previous: string; empty: string; fresh: string };
let tmp: string;

function urlOf(db: string): string {
  const url = new URL(databaseUrl as string);
  url.pathname = `/${db}`;
  return url.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

before(async () => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-schema-upgrade-"));
  await admin(async (c) => {
    for (const db of Object.values(names)) {
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${db}`);
    }
  });
  urls = { previous: urlOf(names.previous), empty: urlOf(names.empty), fresh: urlOf(names.fresh) };
  // The previous release's schema: the shipped migrations without the latest one.
  const previousFolder = path.join(tmp, "migrations");
  fs.cpSync(MIGRATIONS_DIR, previousFolder, { recursive: true });
  const journalFile = path.join(previousFolder, "meta", "_journal.json");
  const journal = JSON.parse(fs.readFileSync(journalFile, "utf8")) as { entries: unknown[] };
  journal.entries.pop();
  fs.writeFileSync(journalFile, JSON.stringify(journal));
  const db = await openDatabase(urls.previous);
  try {
    await migrateDatabase(db, previousFolder);
  } finally {
    await db.close();
  }
});

after(async () => {
  if (skip) return;
  await admin(async (c) => {
    for (const db of Object.values(names)) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
  });
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("pending migrations: the journal entries newer than the latest applied one, and one line naming them and db migrate", () => {
  const j = [
    { tag: "0000_a", when: 10 },
    { tag: "0001_b", when: 20 },
    { tag: "0002_c", when: 30 },
  ];
  assert.deepEqual(pendingEntries(j, undefined), j);
  assert.deepEqual(pendingEntries(j, 20), [{ tag: "0002_c", when: 30 }]);
  assert.deepEqual(pendingEntries(j, 30), []);
  assert.equal(pendingMigrationsMessage({ shipped: j, pending: [], latestApplied: 30 }, "db"), undefined);
  assert.equal(
    pendingMigrationsMessage({ shipped: j, pending: j.slice(2), latestApplied: 20 }, "pg (DATABASE_URL)"),
    "the database at pg (DATABASE_URL) lacks 1 of this version's 3 migrations (0002_c): run `toolloop db migrate` first (compose: the toolloop-migrate service), then start the worker again",
  );
  assert.match(
    pendingMigrationsMessage({ shipped: j, pending: j, latestApplied: undefined }, "pg") ?? "",
    /^the database at pg has no toolloop schema: run `toolloop db migrate` first/,
  );
});

test("a worker of this version on the previous schema: exit 1 naming db migrate and the missing migration", { skip }, async () => {
  const db = await openDatabase(urls.previous);
  try {
    const state = await schemaState(db, MIGRATIONS_DIR);
    assert.deepEqual(
      state.pending.map((e) => e.tag),
      [latest?.tag],
    );
  } finally {
    await db.close();
  }
  const r = await runCli(["worker", "--base-dir", tmp], {
    DATABASE_URL: urls.previous,
    TEMPORAL_ADDRESS: temporalAddress as string,
    TOOLLOOP_QUEUE_PREFIX: `schema-${process.pid}`,
  });
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(
    r.stderr,
    new RegExp(
      `^error: the database at .* \\(DATABASE_URL\\) lacks 1 of this version's ${shipped.length} migrations \\(${latest?.tag}\\): run \`toolloop db migrate\` first`,
      "m",
    ),
  );
  assert.doesNotMatch(r.stdout, /^worker: /m, "no worker started");
});

test("a CLI command on a database without toolloop's tables says to run db migrate, not 'unexpected'", { skip }, async () => {
  const r = await runCli(["campaign", "list"], { DATABASE_URL: urls.empty, TEMPORAL_ADDRESS: temporalAddress as string });
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(
    r.stderr,
    /^error: the database at .* \(DATABASE_URL\) lacks tables or columns this version of toolloop reads \(relation "campaigns" does not exist\): run `toolloop db migrate`$/m,
  );
  assert.doesNotMatch(r.stderr, /unexpected/);
});

test("after db migrate the same worker starts", { skip }, async () => {
  const migrated = await runCli(["db", "migrate"], { DATABASE_URL: urls.previous });
  assert.equal(migrated.status, 0, migrated.stderr);
  const child = spawn(process.execPath, [CLI_MAIN, "worker", "--base-dir", tmp], {
    env: { ...process.env, DATABASE_URL: urls.previous, TEMPORAL_ADDRESS: temporalAddress, TOOLLOOP_QUEUE_PREFIX: `schema-${process.pid}` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const deadline = Date.now() + 60_000;
    while (!/^worker: /m.test(out)) {
      if (child.exitCode !== null) assert.fail(`the worker exited ${child.exitCode}: ${out}`);
      if (Date.now() > deadline) assert.fail(`the worker did not start within 60 s: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // It said which build it runs (src/ops/workerBuilds.ts) before polling: the row this test's own build has.
    const c = new pg.Client({ connectionString: urls.previous });
    await c.connect();
    try {
      const rows = await c.query<{ build_id: string; version: string; last_worker: string }>("select build_id, version, last_worker from worker_builds");
      assert.deepEqual(
        rows.rows.map((r) => [r.build_id, r.version, r.last_worker]),
        [[thisBuild().buildId, thisBuild().version, `${child.pid}@${os.hostname()}`]],
      );
    } finally {
      await c.end();
    }
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
});

test("two db migrate at once on a new database both succeed (one waits for the other's lock)", { skip }, async () => {
  const [a, b] = await Promise.all([runCli(["db", "migrate"], { DATABASE_URL: urls.fresh }), runCli(["db", "migrate"], { DATABASE_URL: urls.fresh })]);
  assert.deepEqual([a.status, b.status], [0, 0], `${a.stderr}\n${b.stderr}`);
  const db = await openDatabase(urls.fresh);
  try {
    assert.deepEqual((await schemaState(db, MIGRATIONS_DIR)).pending, []);
  } finally {
    await db.close();
  }
});
