/**
 * `campaign retry-stage` and `skip-stage` are answered by a worker (the campaign's status query, then
 * an update of its iteration): what to tell the operator instead when Temporal's records show that no
 * worker can answer, rather than a server that "did not answer in time" after its 30 s deadline.
 */
import { CLI, noWorkerYetNote, type WorkflowFacts } from "./campaignView.js";

/** Why the call cannot be answered now, or undefined when a worker may answer it. */
export function operatorCallRefusal(verb: string, campaignId: string, facts: WorkflowFacts): string | undefined {
  if (facts.status !== "RUNNING") return undefined;
  if (facts.noWorkerYet) return `${verb}: no stage of campaign ${campaignId} waits for an operator: ${noWorkerYetNote(facts)}`;
  if (facts.workerPolling === false)
    return (
      `${verb} needs a running worker to answer it: no worker has polled task queue ${facts.taskQueue} recently; ` +
      `start one (\`${CLI} worker\`), the stage waits for the operator until then`
    );
  return undefined;
}

/** No worker answered the status query (Temporal's deadline, or its "no poller seen"), though one polled the queue lately. */
export function noAnswerFromWorker(verb: string, facts: Pick<WorkflowFacts, "taskQueue">): string {
  return (
    `${verb}: no worker answered the campaign's status query; it needs a running worker on task queue ${facts.taskQueue} ` +
    `(one polled it in the last minutes: it may have stopped since, or be too busy to answer); start one (\`${CLI} worker\`) and try again`
  );
}
