/**
 * A request ledger that cannot write says why in a line: before, drain() rethrew drizzle's error,
 * whose message is the whole INSERT and every row's parameters (2,168 characters in the worker's log
 * for 8 rows during a PostgreSQL outage; a 1,000-row statement makes hundreds of KB).
 */
import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import { openDatabase } from "../../../src/db/client.js";
import { isTransientDbError } from "../../../src/db/transient.js";
import { RequestLedger } from "../../../src/framework/requestLedger.js";

/** A loopback port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("drain() of a ledger whose database is away: one line with the driver's reason, classified as the database's", async () => {
  const handle = await openDatabase(`postgres://postgres@127.0.0.1:${await closedPort()}/toolloop`, { transientRetry: { maxWaitMs: 0 } });
  try {
    const ledger = new RequestLedger(handle.db, { campaignId: "c", iteration: 1, stage: "synthesize.singleTurn", batchIndex: 0 });
    for (let i = 0; i < 50; i++)
      ledger.record({ requestId: `r${i}`, role: "generator", model: "m", promptTokens: 1000, completionTokens: 50, failed: false, simulated: true });
    const err = await ledger.drain().then(
      () => assert.fail("drain succeeded without a database"),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, /^request ledger: 50 rows not written: database query failed: .*ECONNREFUSED.* \(query: INSERT INTO "llm_requests"/);
    assert.doesNotMatch(err.message, /params:|r49/);
    assert.ok(err.message.length < 400, `${err.message.length} characters`);
    assert.equal(isTransientDbError(err), true);
  } finally {
    await handle.close();
  }
});
