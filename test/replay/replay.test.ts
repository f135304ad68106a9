/**
 * Replay: committed histories of campaignWorkflow and iterationWorkflow replay against today's
 * workflow code without nondeterminism. Record new ones with `node dist/test/replay/recordHistories.js`
 * after a deliberate, patched() change.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { Worker } from "@temporalio/worker";
import { workflowBundle } from "../../workers/createWorkers.js";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../test/replay/histories");
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "index.json").sort() : [];
/** history file -> the workflow id it was recorded under (child workflow ids derive from it). */
const workflowIds: Record<string, string> = fs.existsSync(path.join(dir, "index.json")) ? JSON.parse(fs.readFileSync(path.join(dir, "index.json"), "utf8")) : {};

test("committed histories exist for both workflows", () => {
  assert.ok(files.some((f) => f.startsWith("campaignWorkflow")), `a campaignWorkflow history in ${dir}`);
  assert.ok(files.some((f) => f.startsWith("iterationWorkflow")), `an iterationWorkflow history in ${dir}`);
});

for (const file of files) {
  test(`replays ${file} without nondeterminism`, async () => {
    const history = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
    assert.ok(Array.isArray(history.events) && history.events.length > 10, "a real history");
    const workflowId = workflowIds[file];
    assert.ok(workflowId, `${file} is listed in histories/index.json`);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), replayName: file }, history, workflowId);
  });
}
