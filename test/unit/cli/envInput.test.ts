/** The environment and flags the CLI reads: blank means unset, malformed values are bad input naming the variable. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ServiceError } from "@temporalio/client";
import { TransportError } from "@temporalio/worker";
import { cliEnv, cliEnvForMessages, defaultBaseDir } from "../../../src/cli/env.js";
import { CliError, renderCliFailure, splitAddress, temporalCliError } from "../../../src/cli/errors.js";
import { positiveInteger } from "../../../src/cli/options.js";
import { workerBaseDir, workerStartError } from "../../../src/cli/worker.js";
import { DatabaseUrlError } from "../../../src/db/databaseUrl.js";
import { thrownMessage } from "../../../src/util/thrown.js";

test("cliEnv: a blank variable is unset (the default applies), a set one is used as given", () => {
  const blank = cliEnv({ TEMPORAL_ADDRESS: "", TEMPORAL_NAMESPACE: " ", TEMPORAL_UI_URL: "", DATABASE_URL: "", TOOLLOOP_QUEUE_PREFIX: "\t" });
  assert.deepEqual(blank, {
    temporalAddress: "127.0.0.1:7233",
    namespace: "default",
    uiUrl: "http://127.0.0.1:8233",
    databaseUrl: undefined,
    queuePrefix: "toolloop",
  });
  const set = cliEnv({
    TEMPORAL_ADDRESS: "t:1",
    TEMPORAL_NAMESPACE: "ns",
    TEMPORAL_UI_URL: "http://ui/",
    DATABASE_URL: "pglite:memory",
    TOOLLOOP_QUEUE_PREFIX: "p",
  });
  assert.deepEqual(set, { temporalAddress: "t:1", namespace: "ns", uiUrl: "http://ui", databaseUrl: "pglite:memory", queuePrefix: "p" });
});

test("splitAddress: host:port, [IPv6]:port or a bare host; anything else is exit 2 naming the variable", () => {
  assert.deepEqual(splitAddress("127.0.0.1:7233"), { host: "127.0.0.1", port: 7233 });
  assert.deepEqual(splitAddress("[::1]:7234"), { host: "::1", port: 7234 });
  assert.deepEqual(splitAddress("temporal"), { host: "temporal", port: 7233 });
  assert.deepEqual(splitAddress("h:65535"), { host: "h", port: 65535 });
  const bad: [string, RegExp][] = [
    ["127.0.0.1:99999", /^TEMPORAL_ADDRESS: port 99999 is out of range \(1 to 65535\) in "127\.0\.0\.1:99999"$/],
    ["127.0.0.1:0", /^TEMPORAL_ADDRESS: port 0 is out of range/],
    ["[::1]:70000", /^TEMPORAL_ADDRESS: port 70000 is out of range/],
    ["http://temporal:7233", /^TEMPORAL_ADDRESS: expected host:port \(e\.g\. 127\.0\.0\.1:7233\), got "http:\/\/temporal:7233"$/],
    ["host:", /^TEMPORAL_ADDRESS: expected host:port/],
    ["host:port", /^TEMPORAL_ADDRESS: expected host:port/],
    ["::1", /^TEMPORAL_ADDRESS: expected host:port/],
    [" host:7233", /^TEMPORAL_ADDRESS: expected host:port/],
    ["", /^TEMPORAL_ADDRESS: expected host:port/],
  ];
  for (const [address, message] of bad) {
    assert.throws(
      () => splitAddress(address),
      (err: unknown) => err instanceof CliError && err.exitCode === 2 && message.test(err.message),
      address,
    );
  }
  assert.throws(
    () => splitAddress("x:1:2", 80, "--address"),
    (err: unknown) => err instanceof CliError && err.message.startsWith("--address: expected host:port"),
  );
});

test("gRPC UNIMPLEMENTED (an HTTP/2 server that is not Temporal) says the address answers but is not a Temporal frontend", () => {
  const e = cliEnv({ TEMPORAL_ADDRESS: "127.0.0.1:8233" });
  const grpc = Object.assign(new Error("12 UNIMPLEMENTED: Received HTTP status code 404"), {
    code: 12,
    details: "Received HTTP status code 404",
    metadata: {},
  });
  for (const err of [grpc, new ServiceError("Failed to describe workflow", { cause: grpc })]) {
    const known = temporalCliError(err, e);
    assert.equal(known?.exitCode, 1);
    assert.equal(
      known?.message,
      "127.0.0.1:8233 (TEMPORAL_ADDRESS) answers but is not a Temporal frontend (12 UNIMPLEMENTED: Received HTTP status code 404); check the host and port (the frontend's gRPC port, 7233 by default, not the UI's)",
    );
  }
});

test("a DATABASE_URL problem is bad input (exit 2) in its own words; a thrown non-Error is described, never [object Object]", () => {
  const e = cliEnv({});
  assert.deepEqual(renderCliFailure(new DatabaseUrlError('DATABASE_URL: expected postgres://... or pglite:<dir>, got "x"'), e, false), {
    text: 'error: DATABASE_URL: expected postgres://... or pglite:<dir>, got "x"',
    exitCode: 2,
  });
  assert.equal(thrownMessage({ name: "ExitStatus", message: "Program terminated with exit(1)", status: 1 }), "ExitStatus: Program terminated with exit(1)");
  assert.equal(thrownMessage({ status: 1 }), "{ status: 1 }");
  assert.equal(thrownMessage("plain"), "plain");
  assert.equal(thrownMessage(undefined), "undefined");
  assert.equal(thrownMessage(new RangeError("r")), "r");
  assert.deepEqual(renderCliFailure({ status: 1 }, e, false), { text: "error: { status: 1 } (unexpected; run with --debug for the stack trace)", exitCode: 1 });
  assert.match(renderCliFailure({ name: "ExitStatus", message: "exit(1)" }, e, true).text, /^ExitStatus: exit\(1\)$/);
});

test("positiveInteger: digits only, at least 1; anything else is exit 2 naming the flag", () => {
  assert.equal(positiveInteger("--llm-concurrency", "16"), 16);
  assert.equal(positiveInteger("--llm-concurrency", "1"), 1);
  for (const raw of ["abc", "0", "-5", "1.5", "1e3", "", " ", "0x10", "99999999999999999999"]) {
    assert.throws(
      () => positiveInteger("--llm-concurrency", raw),
      (err: unknown) =>
        err instanceof CliError && err.exitCode === 2 && err.message === `--llm-concurrency: expected a positive integer, got ${JSON.stringify(raw)}`,
      raw,
    );
  }
});

test("a worker's start on a namespace that does not exist names TEMPORAL_NAMESPACE (DescribeNamespace's NOT_FOUND, or the worker SDK's own error)", () => {
  const e = cliEnv({ TEMPORAL_ADDRESS: "t:7233", TEMPORAL_NAMESPACE: "nope" });
  const expected = 'Temporal namespace "nope" does not exist at t:7233 (TEMPORAL_NAMESPACE); create it or set TEMPORAL_NAMESPACE';
  const notFound = Object.assign(new Error("5 NOT_FOUND: Namespace nope is not found."), { code: 5, details: "Namespace nope is not found.", metadata: {} });
  assert.deepEqual([temporalCliError(notFound, e)?.message, temporalCliError(notFound, e)?.exitCode], [expected, 1]);
  const otherNotFound = Object.assign(new Error("5 NOT_FOUND: workflow not found"), { code: 5, details: "workflow not found", metadata: {} });
  assert.equal(temporalCliError(otherNotFound, e), undefined);
  const sdk = new TransportError(
    'Namespace nope was not found or otherwise could not be described: Status { code: NotFound, message: "Namespace nope is not found." }',
  );
  assert.deepEqual([workerStartError(sdk, e)?.message, workerStartError(sdk, e)?.exitCode], [expected, 1]);
  const notTemporal = workerStartError(
    new TransportError("Failed to call GetSystemInfo: code: 'Internal error', message: \"Unexpected EOF decoding stream.\""),
    e,
  );
  assert.match(notTemporal?.message ?? "", /^t:7233 \(TEMPORAL_ADDRESS\) answers but not as a Temporal frontend \(Failed to call GetSystemInfo: /);
  assert.equal(workerStartError(new Error("Namespace nope was not found"), e), undefined);
});

test("base dir: --base-dir, else TOOLLOOP_BASE_DIR (the image sets /data), else the current folder; a file is exit 2 naming its source", () => {
  assert.equal(defaultBaseDir({}, "/srv/run"), "/srv/run");
  assert.equal(defaultBaseDir({ TOOLLOOP_BASE_DIR: " " }, "/srv/run"), "/srv/run", "blank is unset");
  assert.equal(defaultBaseDir({ TOOLLOOP_BASE_DIR: "/data" }, "/app"), "/data");
  assert.equal(defaultBaseDir({ TOOLLOOP_BASE_DIR: "work" }, "/srv/run"), "/srv/run/work", "relative to the current folder");

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-basedir-"));
  try {
    const file = path.join(tmp, "a-file");
    fs.writeFileSync(file, "");
    assert.equal(workerBaseDir(undefined, { TOOLLOOP_BASE_DIR: tmp }), tmp);
    assert.equal(workerBaseDir(path.join(tmp, "not-yet"), { TOOLLOOP_BASE_DIR: "/elsewhere" }), path.join(tmp, "not-yet"), "the flag wins; created later");
    assert.throws(
      () => workerBaseDir(undefined, { TOOLLOOP_BASE_DIR: file }),
      (err: unknown) =>
        err instanceof CliError && err.exitCode === 2 && err.message === `TOOLLOOP_BASE_DIR: ${file} is not a folder (campaign outputs are written under it)`,
    );
    assert.throws(
      () => workerBaseDir(file, {}),
      (err: unknown) => err instanceof CliError && err.exitCode === 2 && err.message.startsWith(`--base-dir: ${file} is not a folder`),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("TOOLLOOP_QUEUE_PREFIX: letters, digits and ._- only; a stray space or quote is exit 2 naming the variable", () => {
  for (const ok of ["toolloop", "team-a.prod_2", "A", "x".repeat(100)]) assert.equal(cliEnv({ TOOLLOOP_QUEUE_PREFIX: ok }).queuePrefix, ok);
  for (const bad of ["toolloop ", " toolloop", '"toolloop"', "team/a", "-lead", "x".repeat(101), "tool loop"]) {
    assert.throws(
      () => cliEnv({ TOOLLOOP_QUEUE_PREFIX: bad }),
      (err: unknown) =>
        err instanceof CliError && err.exitCode === 2 && err.message.startsWith("TOOLLOOP_QUEUE_PREFIX: expected") && err.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
  // Reporting another failure never fails on it: the messages fall back to the default prefix.
  assert.equal(cliEnvForMessages({ TOOLLOOP_QUEUE_PREFIX: "bad prefix" }).queuePrefix, "toolloop");
});
