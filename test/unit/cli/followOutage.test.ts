/**
 * `campaign start --wait` (follow) while Temporal restarts: a describe that fails with UNAVAILABLE is
 * said once and asked again, instead of ending the command with exit 1 while the campaign carries on
 * (found by a chaos run: the dev server restarted during train.grpo, `--wait` failed, the campaign
 * completed). A client whose first two describes fail, then report the workflow ended.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Client } from "@temporalio/client";
import { follow } from "../../../src/cli/campaign.js";
import { CliError } from "../../../src/cli/errors.js";

function unavailable(): Error {
  // What grpc-js throws (the shape @temporalio/client's isGrpcServiceError recognises).
  return Object.assign(new Error("14 UNAVAILABLE: No connection established"), { code: 14, details: "No connection established", metadata: {} });
}

test("follow keeps following through a Temporal outage and reports the end it then sees", async () => {
  let describes = 0;
  const handle = {
    describe: async () => {
      describes++;
      if (describes <= 2) throw unavailable();
      return { status: { name: "TERMINATED" }, taskQueue: "q", runId: "r", raw: {}, memo: {} };
    },
    query: async () => {
      throw new Error("no worker in this test");
    },
    fetchHistory: async () => ({ events: [] }),
  };
  const client = { workflow: { getHandle: () => handle, list: async function* () {} } } as unknown as Client;
  const out: string[] = [];
  await assert.rejects(
    follow(client, "campaign-x", 1, (s) => out.push(s), true),
    (err: unknown) => err instanceof CliError && /campaign workflow campaign-x ended TERMINATED/.test(err.message),
  );
  assert.ok(describes >= 3, "asked again after the outage");
  const outage = out.filter((l) => l.startsWith("(Temporal does not answer"));
  assert.equal(outage.length, 1, `said once: ${out.join("\n")}`);
  assert.match(outage[0] ?? "", /still following: the campaign carries on/);
  assert.ok(
    out.some((l) => /^\(Temporal answers again after \d+ s\)$/.test(l)),
    out.join("\n"),
  );
});
