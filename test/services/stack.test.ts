import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Connection } from "@temporalio/client";
import { formatEnvFile, stackDown, stackStatus, stackUp } from "../../src/services/stack.js";
import { isProcessAlive } from "../../src/util/childProcess.js";

const execFileAsync = promisify(execFile);
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/services/main.js");

function parseEnvFile(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

test("stack: up starts both services, migrates and writes the env file; the CLI reports and stops them", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-svc-stack-"));
  const stateDir = path.join(dir, "state");
  const envFile = path.join(dir, "env");
  const savedDatabaseUrl = process.env.DATABASE_URL;
  delete process.env.DATABASE_URL; // the suite's shared database must not stand in for ours
  try {
    const env = await stackUp({ stateDir, envFile });
    const written = parseEnvFile(fs.readFileSync(envFile, "utf8"));
    assert.deepEqual(written, env);
    assert.deepEqual(Object.keys(written).sort(), ["DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_UI_URL"]);
    assert.equal(written.TEMPORAL_NAMESPACE, "default");

    const connection = await Connection.connect({ address: written.TEMPORAL_ADDRESS as string });
    await connection.workflowService.describeNamespace({ namespace: "default" });
    await connection.close();
    const db = new pg.Client({ connectionString: written.DATABASE_URL as string });
    await db.connect();
    try {
      const applied = await db.query<{ n: string }>("select count(*) as n from drizzle.__drizzle_migrations");
      assert.ok(Number(applied.rows[0]?.n) > 0, "migrations were applied");
    } finally {
      await db.end();
    }

    const status = stackStatus({ stateDir });
    assert.equal(status.temporal.running, true);
    assert.ok(typeof status.postgres === "object" && status.postgres.running);
    const pids = [status.temporal.pid, typeof status.postgres === "object" ? status.postgres.pid : undefined];

    const cliStatus = await execFileAsync(process.execPath, [MAIN, "status", "--state-dir", stateDir]);
    assert.match(cliStatus.stdout, /temporal: running .*\npostgres: running/);
    const down = await execFileAsync(process.execPath, [MAIN, "down", "--state-dir", stateDir]);
    assert.match(down.stdout, /stopped: temporal, postgres/);
    for (const pid of pids) assert.equal(isProcessAlive(pid as number), false, `pid ${pid} stopped`);
    const downAgain = await execFileAsync(process.execPath, [MAIN, "down", "--state-dir", stateDir]);
    assert.match(downAgain.stdout, /nothing was running/);
  } finally {
    if (savedDatabaseUrl !== undefined) process.env.DATABASE_URL = savedDatabaseUrl;
    await stackDown({ stateDir }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("stack: down then up with the env file sourced restarts both services on the same addresses, with their data", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-svc-restart-"));
  const stateDir = path.join(dir, "state");
  const envFile = path.join(dir, "env");
  const { DATABASE_URL: _suiteDb, ...baseEnv } = process.env; // the suite's shared database must not stand in for ours
  try {
    await execFileAsync(process.execPath, [MAIN, "up", "--state-dir", stateDir, "--env-out", envFile], { env: baseEnv });
    const first = parseEnvFile(fs.readFileSync(envFile, "utf8"));
    const db = new pg.Client({ connectionString: first.DATABASE_URL as string });
    await db.connect();
    await db.query("create table restart_probe (v text); insert into restart_probe values ('kept')");
    await db.end();
    const connection = await Connection.connect({ address: first.TEMPORAL_ADDRESS as string });
    const workflowId = "restart-probe";
    await connection.workflowService.startWorkflowExecution({
      namespace: "default",
      workflowId,
      workflowType: { name: "nothingRunsThis" },
      taskQueue: { name: "restart-probe" },
      requestId: "restart-probe-1",
    });
    await connection.close();

    await execFileAsync(process.execPath, [MAIN, "down", "--state-dir", stateDir], { env: baseEnv });
    // The operator's shell still has the env file sourced (`set -a; . env; set +a`).
    const up = await execFileAsync(process.execPath, [MAIN, "up", "--state-dir", stateDir, "--env-out", envFile], { env: { ...baseEnv, ...first } });
    assert.doesNotMatch(up.stderr, /using DATABASE_URL from the environment/);
    const second = parseEnvFile(fs.readFileSync(envFile, "utf8"));
    assert.deepEqual(second, first, "same addresses after the restart");
    const status = stackStatus({ stateDir });
    assert.ok(typeof status.postgres === "object" && status.postgres.running, "this stack's PostgreSQL runs again");

    const db2 = new pg.Client({ connectionString: second.DATABASE_URL as string });
    await db2.connect();
    try {
      assert.deepEqual((await db2.query<{ v: string }>("select v from restart_probe")).rows, [{ v: "kept" }]);
    } finally {
      await db2.end();
    }
    const connection2 = await Connection.connect({ address: second.TEMPORAL_ADDRESS as string });
    try {
      const described = await connection2.workflowService.describeWorkflowExecution({ namespace: "default", execution: { workflowId } });
      assert.equal(described.workflowExecutionInfo?.type?.name, "nothingRunsThis", "the workflow started before the restart is still there");
    } finally {
      await connection2.close();
    }
  } finally {
    await stackDown({ stateDir }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("stack: an unreachable DATABASE_URL from the environment fails naming it and the reason", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-svc-extdb-"));
  const stateDir = path.join(dir, "state");
  const { DATABASE_URL: _suiteDb, ...baseEnv } = process.env;
  const url = "postgres://postgres@127.0.0.1:1/toolloop";
  try {
    await assert.rejects(
      execFileAsync(process.execPath, [MAIN, "up", "--state-dir", stateDir, "--env-out", path.join(dir, "env")], { env: { ...baseEnv, DATABASE_URL: url } }),
      (err: { stderr?: string }) => {
        assert.match(err.stderr ?? "", /applying migrations to postgres:\/\/postgres@127\.0\.0\.1:1\/toolloop \(DATABASE_URL from the environment; unset it/);
        assert.match(err.stderr ?? "", /ECONNREFUSED/);
        return true;
      },
    );
    assert.equal(stackStatus({ stateDir }).temporal.running, false, "the Temporal server of the failed start is stopped");
  } finally {
    await stackDown({ stateDir }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("stack: down on a state dir where nothing ran is fine", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-svc-stack-empty-"));
  try {
    assert.deepEqual(await stackDown({ stateDir: dir }), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("stack CLI: up without an env file path is a clear error", async () => {
  await assert.rejects(execFileAsync(process.execPath, [MAIN, "up", "--state-dir", "/nonexistent-never-created"]), (err: { stderr?: string }) => {
    assert.match(err.stderr ?? "", /--env-out <file> is required/);
    return true;
  });
});

test("formatEnvFile: plain values stay bare, others are single-quoted for the shell", () => {
  assert.equal(
    formatEnvFile({ A: "127.0.0.1:7233", B: "postgres://u@h:1/db?sslmode=require&x=it's" }),
    "A=127.0.0.1:7233\nB='postgres://u@h:1/db?sslmode=require&x=it'\\''s'\n",
  );
});
