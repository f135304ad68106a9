/**
 * Task queues by latency class. Pure module: workflows, workers and the CLI all read it.
 * Every queue name shares a prefix, and a workflow derives its activity queues from the queue it
 * runs on, so several deployments (or test files) can share one Temporal namespace.
 */
export const DEFAULT_QUEUE_PREFIX = "toolloop";

export type LatencyClass = "llm" | "default" | "cluster";

export interface TaskQueues {
  /** Workflow tasks only. */
  workflows: string;
  /** Activities bound by LLM endpoints (synthesis, judging, scoring). */
  llm: string;
  /** Database- and CPU-bound activities (planning, verification, export). */
  default: string;
  /** Long cluster jobs (training, benchmark runs): submit + poll. */
  cluster: string;
}

export function taskQueues(prefix: string = DEFAULT_QUEUE_PREFIX): TaskQueues {
  return { workflows: `${prefix}-workflows`, llm: `${prefix}-llm`, default: `${prefix}-default`, cluster: `${prefix}-cluster` };
}

/** The prefix of a workflow task queue name ("acme-workflows" -> "acme"). */
export function queuePrefixOf(workflowTaskQueue: string): string {
  return workflowTaskQueue.endsWith("-workflows") ? workflowTaskQueue.slice(0, -"-workflows".length) : workflowTaskQueue;
}

export const TASK_QUEUES = taskQueues();
