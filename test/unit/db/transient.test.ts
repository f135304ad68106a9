/** Which database errors are retried as the infrastructure's, and how long the retry waits. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isTransientDbError, retryTransient } from "../../../src/db/transient.js";

const pgError = (code: string, message = "x") => Object.assign(new Error(message), { code });

test("connection-level failures are transient; answers to the statement are not", () => {
  for (const e of [
    pgError("57P01", "terminating connection due to administrator command"),
    pgError("08006"),
    pgError("57P03", "the database system is starting up"),
    pgError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"),
    new Error("Connection terminated unexpectedly"),
    // drizzle wraps the driver's error: the cause chain is searched.
    new Error("Failed query: insert into ...", { cause: pgError("ECONNRESET") }),
  ]) {
    assert.equal(isTransientDbError(e), true, String(e));
  }
  for (const e of [
    pgError("23505", "duplicate key"),
    pgError("42P01", 'relation "x" does not exist'),
    new TypeError("x is undefined"),
    "a string",
    undefined,
    null,
  ]) {
    assert.equal(isTransientDbError(e), false, String(e));
  }
});

test("retryTransient retries transient failures until success, and gives up after maxWaitMs", async () => {
  let calls = 0;
  const slept: number[] = [];
  const value = await retryTransient(
    async () => {
      if (++calls < 4) throw pgError("57P01");
      return "ok";
    },
    { sleep: async (ms) => void slept.push(ms), initialDelayMs: 100, maxDelayMs: 300 },
  );
  assert.equal(value, "ok");
  assert.deepEqual(slept, [100, 200, 300], "exponential backoff, capped");

  let permanent = 0;
  await assert.rejects(
    retryTransient(async () => {
      permanent++;
      throw pgError("23505", "duplicate key");
    }),
    /duplicate key/,
  );
  assert.equal(permanent, 1, "a statement's own error is not retried");

  let outage = 0;
  await assert.rejects(
    retryTransient(
      async () => {
        outage++;
        throw pgError("ECONNREFUSED", "connect ECONNREFUSED");
      },
      { maxWaitMs: 50, initialDelayMs: 20, maxDelayMs: 20 },
    ),
    /ECONNREFUSED/,
  );
  assert.ok(outage >= 2 && outage <= 4, `retried within the bound (${outage} calls)`);
});
