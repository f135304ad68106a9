/**
 * Is a worker on this host polling its task queues? The image's HEALTHCHECK asks the Temporal
 * server (DescribeTaskQueue) for the pollers of the deployment's queues and looks for one whose
 * identity is this host's (the SDK's default identity is `<pid>@<hostname>`) and which polled
 * recently. A live process that lost its server connection, or never registered, is unhealthy.
 */
import type { Connection } from "@temporalio/client";
import { taskQueues } from "../taskQueues.js";

// temporal.api.enums.v1 numbers (@temporalio/proto is not a direct dependency).
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;
const TASK_QUEUE_KIND_NORMAL = 1;

export interface WorkerHealth {
  healthy: boolean;
  /** One line: which queue was polled from this host and when, or what is missing. */
  detail: string;
}

export interface WorkerHealthOptions {
  connection: Pick<Connection, "workflowService">;
  namespace: string;
  queuePrefix: string;
  hostname: string;
  /** A poll older than this does not count (the server keeps poller records for a few minutes). */
  maxAgeMs?: number;
  now?: Date;
}

export async function checkWorkerHealth(opts: WorkerHealthOptions): Promise<WorkerHealth> {
  const maxAgeMs = opts.maxAgeMs ?? 90_000;
  const now = (opts.now ?? new Date()).getTime();
  const queues = taskQueues(opts.queuePrefix);
  const targets = [
    { name: queues.workflows, type: TASK_QUEUE_TYPE_WORKFLOW },
    ...[queues.llm, queues.default, queues.cluster].map((name) => ({ name, type: TASK_QUEUE_TYPE_ACTIVITY })),
  ];
  const seen: string[] = [];
  for (const target of targets) {
    const res = await opts.connection.workflowService.describeTaskQueue({
      namespace: opts.namespace,
      taskQueue: { name: target.name, kind: TASK_QUEUE_KIND_NORMAL },
      taskQueueType: target.type,
    });
    for (const poller of res.pollers ?? []) {
      const identity = poller.identity ?? "";
      if (!identity.endsWith(`@${opts.hostname}`)) continue;
      const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
      const ageMs = now - seconds * 1000;
      if (ageMs <= maxAgeMs) return { healthy: true, detail: `${identity} polled ${target.name} ${Math.max(0, Math.round(ageMs / 1000))} s ago` };
      seen.push(`${identity} on ${target.name} last polled ${Math.round(ageMs / 1000)} s ago`);
    }
  }
  const names = targets.map((t) => t.name).join(", ");
  return {
    healthy: false,
    detail:
      seen.length > 0
        ? `no recent poll from ${opts.hostname}: ${seen.join("; ")}`
        : `no worker on ${opts.hostname} polls ${names} in namespace ${opts.namespace}`,
  };
}
