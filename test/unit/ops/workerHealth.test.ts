/** The image's worker healthcheck decision, on DescribeTaskQueue answers (the layout test runs it against a real server). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkWorkerHealth } from "../../../src/ops/workerHealth.js";

const NOW = new Date("2026-12-02T12:00:00Z");
type Poller = { identity: string; lastAccessTime: { seconds: number } };

/** A workflowService that answers DescribeTaskQueue from a table of pollers per queue name, recording the requests. */
function fakeConnection(pollers: Record<string, Poller[]>) {
  const asked: { name: string; type: number }[] = [];
  const workflowService = {
    describeTaskQueue: async (req: { taskQueue: { name: string }; taskQueueType: number }) => {
      asked.push({ name: req.taskQueue.name, type: req.taskQueueType });
      return { pollers: pollers[req.taskQueue.name] ?? [] };
    },
  };
  return { connection: { workflowService } as unknown as Parameters<typeof checkWorkerHealth>[0]["connection"], asked };
}
const secondsAgo = (s: number) => ({ seconds: NOW.getTime() / 1000 - s });

test("healthy when this host polled one of the deployment's queues recently", async () => {
  const { connection } = fakeConnection({
    "acme-llm": [
      { identity: "7@other", lastAccessTime: secondsAgo(1) },
      { identity: "1@box", lastAccessTime: secondsAgo(5) },
    ],
  });
  const h = await checkWorkerHealth({ connection, namespace: "ns", queuePrefix: "acme", hostname: "box", now: NOW });
  assert.deepEqual(h, { healthy: true, detail: "1@box polled acme-llm 5 s ago" });
});

test("unhealthy when only other hosts poll, or this host's last poll is stale", async () => {
  const other = fakeConnection({ "acme-workflows": [{ identity: "7@other", lastAccessTime: secondsAgo(1) }] });
  const h1 = await checkWorkerHealth({ connection: other.connection, namespace: "ns", queuePrefix: "acme", hostname: "box", now: NOW });
  assert.equal(h1.healthy, false);
  assert.equal(h1.detail, "no worker on box polls acme-workflows, acme-llm, acme-default, acme-cluster in namespace ns");
  // Workflow queue asked as a workflow task queue (1), the others as activity queues (2).
  assert.deepEqual(other.asked, [
    { name: "acme-workflows", type: 1 },
    { name: "acme-llm", type: 2 },
    { name: "acme-default", type: 2 },
    { name: "acme-cluster", type: 2 },
  ]);

  const stale = fakeConnection({ "acme-default": [{ identity: "1@box", lastAccessTime: secondsAgo(300) }] });
  const h2 = await checkWorkerHealth({ connection: stale.connection, namespace: "ns", queuePrefix: "acme", hostname: "box", now: NOW });
  assert.deepEqual(h2, { healthy: false, detail: "no recent poll from box: 1@box on acme-default last polled 300 s ago" });
});

test("a host name that merely ends like this one does not count", async () => {
  const { connection } = fakeConnection({ "acme-llm": [{ identity: "1@bigbox", lastAccessTime: secondsAgo(1) }] });
  assert.equal((await checkWorkerHealth({ connection, namespace: "ns", queuePrefix: "acme", hostname: "box", now: NOW })).healthy, false);
});
