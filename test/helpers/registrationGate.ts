/**
 * Holds a campaign's registration (the registerCampaign activity) just before it first reads the
 * campaigns row, until released: an abort sent meanwhile certainly meets a registration in flight
 * that has read nothing yet. Installed as the workers' `getDb` wrapper (testEnv startWorkers); the
 * registration's first database access is its read of the row, every other activity passes.
 */
import { Context } from "@temporalio/activity";
import { WorkflowFailedError, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from "@temporalio/client";
import { CancelledFailure } from "@temporalio/common";
import type { Worker } from "@temporalio/worker";
import { eq } from "drizzle-orm";
import type { ActivityDeps } from "../../activities/index.js";
import { abortCampaign } from "../../src/cli/abortAndMetadata.js";
import { campaigns } from "../../src/db/schema.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { waitFor, type TestEnv } from "./testEnv.js";

export interface RegistrationGate {
  /** The workers' getDb wrapper. */
  getDb: (base: ActivityDeps["getDb"]) => ActivityDeps["getDb"];
  /** Holds the next registration that reaches the gate; resolves once one waits there. */
  hold(): Promise<void>;
  /** Lets the held registration (and any later one) go on. */
  release(): void;
}

export function registrationGate(): RegistrationGate {
  let held: { reached: () => void; released: Promise<void>; release: () => void } | undefined;
  const inRegistration = () => {
    try {
      return Context.current().info.activityType === "registerCampaign";
    } catch {
      return false; // not inside an activity
    }
  };
  return {
    getDb: (base) => async () => {
      const h = held;
      if (h && inRegistration()) {
        h.reached();
        await h.released;
      }
      return base();
    },
    hold() {
      return new Promise<void>((reached) => {
        let release!: () => void;
        const released = new Promise<void>((r) => (release = r));
        held = { reached, released, release };
      });
    },
    release() {
      held?.release();
      held = undefined;
    },
  };
}

/** The campaigns row's status of campaign `campaignId` (undefined without a row). */
export async function campaignRowStatus(env: TestEnv, campaignId: string): Promise<string | undefined> {
  return (await env.db.db.select({ status: campaigns.status }).from(campaigns).where(eq(campaigns.id, campaignId)))[0]?.status;
}

/**
 * The earlier run of a rerun: starts campaign `campaignId` (as `campaign start` does), lets it
 * register (its row running) and aborts it. Returns the row's status once that run has ended.
 */
export async function registeredThenAborted(env: TestEnv, campaignId: string, config: unknown): Promise<string | undefined> {
  const first = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  await waitFor("the first run registered", async () => (await campaignRowStatus(env, campaignId)) === "running");
  await abortCampaign(env.client, first.workflowId, "the earlier run");
  await first.result().catch(() => undefined);
  return campaignRowStatus(env, campaignId);
}

/** Event summaries of a workflow's history: the activity types scheduled, and whether a cancel of one was requested. */
async function historyOf(h: WorkflowHandle) {
  const events = (await h.fetchHistory()).events ?? [];
  return {
    scheduled: events.flatMap((e) =>
      e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : [],
    ),
    cancelRequested: events.some((e) => e.activityTaskCancelRequestedEventAttributes),
  };
}

/**
 * Starts campaign `campaignId` (as `campaign start` does), holds its registration before it reads the
 * row, and aborts it (`campaign abort`). Once the workflow has asked its registration to stop, the
 * workflow is given every chance to write its end first: if it wrote the abort at once (the code
 * before the abort-waits-for-registration patch), it is let end before the registration goes on.
 * Then the registration goes on, and this returns once the workflow ended and no activity is in flight.
 */
export async function abortWhileRegistering(
  env: TestEnv,
  gate: RegistrationGate,
  workers: Worker[],
  campaignId: string,
  config: unknown,
): Promise<{ handle: WorkflowHandleWithFirstExecutionRunId; wroteAbortAtOnce: boolean; workflowWhileHeld: string; outcome: string }> {
  const reached = gate.hold();
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  await reached;
  await abortCampaign(env.client, handle.workflowId, "stopped while it registers");
  await waitFor("the registration's cancel request in the history", async () => (await historyOf(handle)).cancelRequested, 60_000, 100);
  const wroteAbortAtOnce = (await historyOf(handle)).scheduled.includes("setCampaignStatus");
  if (wroteAbortAtOnce) await handle.result().catch(() => undefined);
  const workflowWhileHeld = (await handle.describe()).status.name;
  gate.release();
  const outcome = await handle.result().then(
    (r: { state: string }) => `completed (${r.state})`,
    (e: unknown) => (e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure ? "cancelled" : `failed: ${String(e)}`),
  );
  await waitFor("no activity in flight", async () => workers.every((w) => w.getStatus().numInFlightActivities === 0), 60_000, 100);
  return { handle, wroteAbortAtOnce, workflowWhileHeld, outcome };
}
