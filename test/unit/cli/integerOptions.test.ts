/**
 * Integer flags take plain decimal digits only. They were read with Number(), which takes " 5",
 * "2.0", "1e2" and "0x1F90" (and "" as 0), so `--port 0x1F90` listened on 8080 and `--limit 1e2`
 * listed 100. Every integer flag of every command, as the CLI process sees it: exit 2 naming the
 * flag and the value, before anything is connected to (no Temporal or PostgreSQL needed).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CliError } from "../../../src/cli/errors.js";
import { integerFromTo, plainDecimal, plainInteger, positiveInteger, probability, wholeNumberUpTo } from "../../../src/cli/options.js";
import { runCli } from "../../helpers/cli.js";

/** What Number() reads as a number though no operator writes an integer so. */
const NOT_PLAIN = [" 5", "5 ", "2.0", "1e2", "0x1F90", "0b11", "0o7", "+5", "-0", "", "1_000", "Infinity", "99999999999999999999"];

test("plainInteger: digits only; anything Number() merely tolerates is undefined", () => {
  assert.equal(plainInteger("0"), 0);
  assert.equal(plainInteger("8080"), 8080);
  assert.equal(plainInteger("007"), 7);
  for (const raw of NOT_PLAIN) assert.equal(plainInteger(raw), undefined, JSON.stringify(raw));
});

test("integerFromTo, positiveInteger, wholeNumberUpTo: a value not in plain digits or out of range is exit 2 naming the flag and the value", () => {
  assert.equal(integerFromTo("--port", "0", 0, 65535), 0);
  assert.equal(integerFromTo("--port", "65535", 0, 65535), 65535);
  const refused = (fn: () => unknown, message: string) =>
    assert.throws(fn, (err: unknown) => err instanceof CliError && err.exitCode === 2 && err.message === message, message);
  for (const raw of [...NOT_PLAIN, "65536", "-1"]) {
    refused(() => integerFromTo("--port", raw, 0, 65535), `--port: expected an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  }
  for (const raw of [...NOT_PLAIN, "0"]) {
    refused(() => positiveInteger("--max-runs", raw), `--max-runs: expected a positive integer, got ${JSON.stringify(raw)}`);
  }
  for (const raw of [...NOT_PLAIN, "60001"]) {
    refused(() => wholeNumberUpTo("--latency-ms", raw, 60_000), `--latency-ms: expected a whole number from 0 to 60000, got ${JSON.stringify(raw)}`);
  }
});

test("plainDecimal and probability: decimals in plain notation only (no sign, exponent, hex or spaces)", () => {
  assert.equal(plainDecimal("0.5"), 0.5);
  assert.equal(plainDecimal(".5"), 0.5);
  assert.equal(plainDecimal("2"), 2);
  assert.equal(probability("--mistake-rate", "1"), 1);
  for (const raw of [" 0.5", "5e-1", "0x0", "+0.5", "", ".", "-0"]) {
    assert.equal(plainDecimal(raw), undefined, JSON.stringify(raw));
    assert.throws(
      () => probability("--mistake-rate", raw),
      (err: unknown) => err instanceof CliError && err.message === `--mistake-rate: expected a number between 0 and 1, got ${JSON.stringify(raw)}`,
    );
  }
});

/** No services and no stray settings from the caller's environment; nothing listens at port 1. */
const NO_SERVICES = { TEMPORAL_ADDRESS: "127.0.0.1:1", DATABASE_URL: "", TOOLLOOP_METRICS_ADDRESS: "" };

/** [command line, environment, the error it must print]: each integer flag once, each with a value Number() took. */
const CASES: [string[], Record<string, string>, string][] = [
  [["worker", "--llm-concurrency", "1e2"], { DATABASE_URL: "pglite:memory" }, '--llm-concurrency: expected a positive integer, got "1e2"'],
  [["campaign", "list", "--limit", "1e2"], {}, '--limit: expected an integer from 1 to 1000, got "1e2"'],
  [["campaign", "list", "--limit", "2.0"], {}, '--limit: expected an integer from 1 to 1000, got "2.0"'],
  [["campaign", "status", "c", "--watch", "--interval", "0x10"], {}, '--interval: expected seconds between 0.2 and 3600, got "0x10"'],
  [["report", "build", "c", "--iteration", "1e0"], {}, '--iteration: expected a positive whole number, got "1e0"'],
  [["report", "serve", "c", "--port", "0x1F90"], {}, '--port: expected a port number 0-65535, got "0x1F90"'],
  [["reward", "serve", "--port", "0x1F90"], {}, '--port: expected an integer from 0 to 65535, got "0x1F90"'],
  [["reward", "serve", "--max-body-bytes", "1e6"], {}, '--max-body-bytes: expected an integer from 1 to 2147483647, got "1e6"'],
  [["reward", "serve", "--max-batch-items", " 5"], {}, '--max-batch-items: expected an integer from 1 to 1000000, got " 5"'],
  [["schedule", "backfill", "w", "--from", "2026-11-02", "--to", "2026-11-09", "--max-runs", " 5"], {}, '--max-runs: expected a positive integer, got " 5"'],
  [["bfcl", "probe", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--limit", " 5"], {}, '--limit must be a positive integer, got " 5"'],
  [["bfcl", "probe", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--concurrency", "8 "], {}, '--concurrency must be a positive integer, got "8 "'],
  [["demo", "--latency-ms", "1e2"], {}, '--latency-ms: expected a whole number from 0 to 60000, got "1e2"'],
  [["model", "list", "c", "--iteration", "1e0"], {}, '--iteration "1e0": expected a positive whole number'],
  [["model", "list", "c", "--last", "2.0"], {}, '--last "2.0": expected a positive whole number'],
  [["model", "stop", "c", "--iteration", " 1"], {}, '--iteration " 1": expected a positive whole number'],
  [["model", "restart", "c", "--timeout-seconds", "1e3"], {}, '--timeout-seconds "1e3": expected a whole number of seconds from 1 to 999999'],
];

test("every integer flag of every command refuses a value not in plain decimal digits: exit 2 naming the flag and the value", async () => {
  for (const [args, env, message] of CASES) {
    const r = await runCli(args, { ...NO_SERVICES, ...env }, 30_000);
    assert.equal(r.stderr, `error: ${message}\n`, args.join(" "));
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
  }
});
