/**
 * Malformed environment and worker flags as the CLI process sees them: exit 2 with one line naming the
 * variable or flag, before anything is connected to (no Temporal or PostgreSQL needed), and no hang.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { runCli } from "../helpers/cli.js";

/** No services and no stray settings from the caller's environment, unless a case sets them. */
const NO_SERVICES = { TEMPORAL_ADDRESS: "", DATABASE_URL: "", TOOLLOOP_METRICS_ADDRESS: "" };

/** A hung process is killed at this (and fails the exit code check); a refused one takes a CLI start-up. */
const PROMPTLY_MS = 20_000;

function assertBadInput(r: { status: number; stderr: string }, message: string, what: string): void {
  assert.equal(r.stderr, `error: ${message}\n`, what);
  assert.equal(r.status, 2, `${what}: ${r.stderr}`);
}

test("worker --llm-concurrency that is not a positive integer: exit 2 naming it, at once (before the Temporal and database checks)", async () => {
  for (const value of ["abc", "0", "-5", "1.5"]) {
    // Nothing listens at port 1: had the worker connected first it would exit 1 saying so.
    const r = await runCli(
      ["worker", "--llm-concurrency", value],
      { ...NO_SERVICES, DATABASE_URL: "pglite:memory", TEMPORAL_ADDRESS: "127.0.0.1:1" },
      PROMPTLY_MS,
    );
    assertBadInput(r, `--llm-concurrency: expected a positive integer, got ${JSON.stringify(value)}`, `--llm-concurrency ${value} (${r.ms} ms)`);
  }
});

test("worker --llm-concurrency above its bound (256): exit 2 naming the flag, the value and why, at once; the bound itself is taken", async () => {
  const env = { ...NO_SERVICES, DATABASE_URL: "pglite:memory", TEMPORAL_ADDRESS: "127.0.0.1:1" };
  for (const value of ["257", "4096", "100000000"]) {
    const r = await runCli(["worker", "--llm-concurrency", value], env, PROMPTLY_MS);
    assertBadInput(
      r,
      `--llm-concurrency: at most 256 (each is a whole batch on this process's one event loop; past that its heartbeats fall behind and batches run twice), got "${value}"; run more workers with --roles llm instead`,
      `--llm-concurrency ${value} (${r.ms} ms)`,
    );
  }
  // 256 passes the flag check: the worker goes on to Temporal, which nothing answers at port 1 (exit 1, not 2).
  const atBound = await runCli(["worker", "--llm-concurrency", "256"], env, PROMPTLY_MS);
  assert.equal(atBound.status, 1, atBound.stderr);
  assert.match(atBound.stderr, /127\.0\.0\.1:1/);
  assert.doesNotMatch(atBound.stderr, /--llm-concurrency/);
  const help = await runCli(["worker", "--help"], NO_SERVICES, PROMPTLY_MS);
  assert.match(
    help.stdout.replace(/\s+/g, " "),
    /--llm-concurrency <n> concurrent LLM-bound activities \(batches\), 1 to 256: .* heartbeats fall behind .*--roles llm/,
  );
});

test("TEMPORAL_ADDRESS that is not host:port, or a port out of range: exit 2 naming it, for any command", async () => {
  const cases: [string, string][] = [
    ["127.0.0.1:99999", 'TEMPORAL_ADDRESS: port 99999 is out of range (1 to 65535) in "127.0.0.1:99999"'],
    ["http://127.0.0.1:7233", 'TEMPORAL_ADDRESS: expected host:port (e.g. 127.0.0.1:7233), got "http://127.0.0.1:7233"'],
  ];
  for (const [address, message] of cases) {
    assertBadInput(await runCli(["campaign", "status", "x"], { ...NO_SERVICES, TEMPORAL_ADDRESS: address }), message, `status ${address}`);
    // The worker checks it before the database (here an in-memory one that would open fine).
    assertBadInput(await runCli(["worker"], { ...NO_SERVICES, DATABASE_URL: "pglite:memory", TEMPORAL_ADDRESS: address }), message, `worker ${address}`);
  }
});

test("TEMPORAL_ADDRESS answered by an HTTP/2 server that is not Temporal: exit 1 saying so", async () => {
  const server = http2.createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const r = await runCli(["campaign", "status", "x"], { ...NO_SERVICES, TEMPORAL_ADDRESS: address });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^error: ${address} \\(TEMPORAL_ADDRESS\\) answers but is not a Temporal frontend \\(12 UNIMPLEMENTED: .*404.*\\); check the host and port`),
    );
    assert.doesNotMatch(r.stderr, /unexpected/);
  } finally {
    server.close();
  }
});

test("DATABASE_URL that names no usable database: exit 2 naming it, whichever command reads it", async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "toolloop-env-input-")), "a-file");
  writeFileSync(file, "x");
  const cases: [string, string][] = [
    ["notaurl", 'DATABASE_URL: expected postgres://... or pglite:<dir>, got "notaurl"'],
    ["pglite:", "DATABASE_URL: pglite: needs a folder (pglite:<dir>), or pglite:memory for a database lost at exit"],
    [`pglite:${file}`, `DATABASE_URL: pglite:${file} is not a directory`],
  ];
  for (const [url, message] of cases) assertBadInput(await runCli(["db", "migrate"], { ...NO_SERVICES, DATABASE_URL: url }), message, `db migrate ${url}`);
  // Checked before Temporal (nothing listens at TEMPORAL_ADDRESS here) and before the database.
  const [url, message] = cases[0]!;
  for (const args of [["campaign", "list"], ["campaign", "status", "x"], ["model", "list", "x"], ["worker"]])
    assertBadInput(await runCli(args, { ...NO_SERVICES, DATABASE_URL: url, TEMPORAL_ADDRESS: "127.0.0.1:1" }), message, args.join(" "));
});

test("worker flags are checked before the environment: a bad flag is exit 2 naming it though the environment is unusable too", async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "toolloop-worker-flags-")), "a-file");
  writeFileSync(file, "x");
  // Every variable the worker reads at start is wrong: had it read them first, it would name one of them.
  const brokenEnv = {
    ...NO_SERVICES,
    TEMPORAL_ADDRESS: "http://127.0.0.1:7233",
    TOOLLOOP_QUEUE_PREFIX: " toolloop",
    TOOLLOOP_WORKER_HEAP_GROWING_PERCENT: "lots",
    TOOLLOOP_METRICS_ADDRESS: "nowhere",
    TOOLLOOP_BASE_DIR: file,
  };
  const cases: [string[], string][] = [
    [["--llm-concurrency", "abc"], '--llm-concurrency: expected a positive integer, got "abc"'],
    [["--roles", "llm,gpu"], '--roles: unknown "gpu"; expected some of workflows, llm, default, cluster'],
    [["--roles", "llm,"], '--roles: unknown ""; expected some of workflows, llm, default, cluster'],
    [["--metrics-address", "9464"], '--metrics-address: expected host:port such as 127.0.0.1:9464 (0.0.0.0:9464 to listen on every interface), got "9464"'],
    [["--base-dir", file], `--base-dir: ${file} is not a folder (campaign outputs are written under it)`],
  ];
  for (const [flags, message] of cases) {
    const r = await runCli(["worker", ...flags], brokenEnv, PROMPTLY_MS);
    assertBadInput(r, message, `worker ${flags.join(" ")} (${r.ms} ms)`);
  }
  // With good flags the same environment is refused naming a variable, not a flag.
  const r = await runCli(["worker", "--llm-concurrency", "4", "--metrics-address", "127.0.0.1:0", "--base-dir", path.dirname(file)], brokenEnv, PROMPTLY_MS);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^error: (DATABASE_URL|TEMPORAL_ADDRESS|TOOLLOOP_QUEUE_PREFIX|TOOLLOOP_WORKER_HEAP_GROWING_PERCENT)\b/);
});
