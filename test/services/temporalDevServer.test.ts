import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client, Connection } from "@temporalio/client";
import { startTemporalDevServer, stopTemporalDevServer, temporalDevServerStatus } from "../../src/services/temporalDevServer.js";
import { findTemporalCli } from "../../src/services/temporalCli.js";
import { CUSTOM_SEARCH_ATTRIBUTES } from "../../src/services/searchAttributes.js";
import { isProcessAlive } from "../../src/util/childProcess.js";

// temporal.api.enums.v1.IndexedValueType numbers, as listSearchAttributes reports them.
const INDEXED_VALUE_TYPE: Record<string, number> = { Text: 1, Keyword: 2, Int: 3, Double: 4, Bool: 5, Datetime: 6, KeywordList: 7 };

test("dev server: search attributes registered, state survives a restart, stop leaves no process", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-svc-temporal-"));
  const stateDir = path.join(dir, "state");
  try {
    const first = await startTemporalDevServer({ stateDir });
    assert.match(first.address, /^127\.0\.0\.1:\d+$/);
    assert.match(first.uiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(first.namespace, "default");

    const workflowId = "services-test-persisted";
    {
      const connection = await Connection.connect({ address: first.address });
      try {
        const listed = await connection.operatorService.listSearchAttributes({ namespace: "default" });
        for (const attr of CUSTOM_SEARCH_ATTRIBUTES) {
          assert.equal(listed.customAttributes?.[attr.name], INDEXED_VALUE_TYPE[attr.type], `search attribute ${attr.name}`);
        }
        // No worker polls this queue: the workflow just stays running in the server's database.
        const client = new Client({ connection, namespace: "default" });
        await client.workflow.start("workflowNobodyImplements", { taskQueue: "services-test-nobody-polls", workflowId, args: [] });
      } finally {
        await connection.close();
      }
    }
    await first.stop();
    assert.equal(isProcessAlive(first.pid), false, "stop() must leave no server process");
    await first.stop(); // idempotent

    // Restart on the same stateDir, detached this time, and stop it through the stateDir alone.
    const second = await startTemporalDevServer({ stateDir, detached: true });
    assert.notEqual(second.pid, first.pid);
    const connection = await Connection.connect({ address: second.address });
    try {
      const description = await new Client({ connection, namespace: "default" }).workflow.getHandle(workflowId).describe();
      assert.equal(description.status.name, "RUNNING");
      assert.equal(description.type, "workflowNobodyImplements");
    } finally {
      await connection.close();
    }
    const again = await startTemporalDevServer({ stateDir, detached: true });
    assert.equal(again.pid, second.pid, "a second start on a running stateDir reuses the server");
    assert.equal(temporalDevServerStatus(stateDir)?.running, true);
    assert.equal(await stopTemporalDevServer(stateDir), true);
    assert.equal(isProcessAlive(second.pid), false);
    assert.equal(await stopTemporalDevServer(stateDir), false, "stopping again is a no-op");
    assert.match(fs.readFileSync(path.join(stateDir, "temporal.log"), "utf8"), /start-dev/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("dev server: a namespace other than default is created at start", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-svc-temporal-ns-"));
  try {
    const server = await startTemporalDevServer({ stateDir: dir, namespace: "toolloop-test" });
    try {
      assert.equal(server.namespace, "toolloop-test");
      const connection = await Connection.connect({ address: server.address });
      try {
        const ns = await connection.workflowService.describeNamespace({ namespace: "toolloop-test" });
        assert.equal(ns.namespaceInfo?.name, "toolloop-test");
      } finally {
        await connection.close();
      }
      await assert.rejects(startTemporalDevServer({ stateDir: dir, namespace: "other" }), /already running .*namespace "toolloop-test"/);
    } finally {
      await server.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("findTemporalCli: a bad TEMPORAL_CLI_PATH is a clear error; a good one is returned as is", async () => {
  const saved = process.env.TEMPORAL_CLI_PATH;
  try {
    process.env.TEMPORAL_CLI_PATH = "/nonexistent/temporal";
    await assert.rejects(findTemporalCli(), /TEMPORAL_CLI_PATH: "\/nonexistent\/temporal" is not an executable file/);
    delete process.env.TEMPORAL_CLI_PATH;
    const found = await findTemporalCli({ build: false });
    process.env.TEMPORAL_CLI_PATH = found;
    assert.equal(await findTemporalCli(), found);
  } finally {
    if (saved === undefined) delete process.env.TEMPORAL_CLI_PATH;
    else process.env.TEMPORAL_CLI_PATH = saved;
  }
});

test("startTemporalDevServer: stateDir is required", async () => {
  await assert.rejects(startTemporalDevServer({ stateDir: "" }), /stateDir is required/);
});
