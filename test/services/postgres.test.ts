import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { postgresStatus, startPostgres, stopPostgres } from "../../src/services/postgres.js";
import { isProcessAlive, waitForExit } from "../../src/util/childProcess.js";

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

test("postgres: starts, keeps rows across stop/restart and after SIGKILL, reuses a running server", async () => {
  // mkdtemp makes a root-owned 0700 dir: as root, startPostgres must make it traversable for the postgres user.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-svc-pg-"));
  const dataDir = path.join(dir, "pg", "data");
  try {
    const first = await startPostgres({ dataDir });
    assert.match(first.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/toolloop$/);
    assert.deepEqual(await query(first.url, "select 1 as one"), [{ one: 1 }]);
    await query(first.url, "create table kept (id int primary key, note text)");
    await query(first.url, "insert into kept values (1, 'a'), (2, 'b')");

    const reused = await startPostgres({ dataDir });
    assert.equal(reused.port, first.port, "a second start on a running dataDir returns the running server");
    assert.equal(reused.pid, first.pid);
    await assert.rejects(startPostgres({ dataDir, port: first.port === 65000 ? 65001 : 65000 }), /already running on port/);

    await first.stop();
    assert.equal(isProcessAlive(first.pid), false);
    assert.equal(postgresStatus(dataDir).running, false);
    await first.stop(); // idempotent

    const second = await startPostgres({ dataDir });
    assert.deepEqual(await query(second.url, "select id, note from kept order by id"), [
      { id: 1, note: "a" },
      { id: 2, note: "b" },
    ]);
    await query(second.url, "insert into kept values (3, 'c')");

    // A crash leaves postmaster.pid behind; the next start must notice the process is gone.
    process.kill(second.pid, "SIGKILL");
    assert.equal(await waitForExit(second.pid, 10_000), true);
    assert.equal(fs.existsSync(path.join(dataDir, "postmaster.pid")), true);
    const third = await startPostgres({ dataDir });
    assert.deepEqual(await query<{ n: string }>(third.url, "select count(*) as n from kept"), [{ n: "3" }]);
    assert.equal(postgresStatus(dataDir).running, true);
    assert.equal(await stopPostgres(dataDir), true);
    assert.equal(isProcessAlive(third.pid), false);
    assert.equal(await stopPostgres(dataDir), false, "stopping again is a no-op");
  } finally {
    await stopPostgres(dataDir).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("postgres: bad input is a clear error", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-svc-pg-bad-"));
  try {
    fs.writeFileSync(path.join(dir, "unrelated.txt"), "not a data dir");
    await assert.rejects(startPostgres({ dataDir: dir }), /dataDir .* is not empty and is not a PostgreSQL data directory/);
    await assert.rejects(startPostgres({ dataDir: path.join(dir, "x"), port: 70000 }), /port must be an integer in 1\.\.65535/);
    await assert.rejects(startPostgres({ dataDir: "" }), /dataDir is required/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
