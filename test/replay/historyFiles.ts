/**
 * Saving a recorded workflow history for the replay test: the Temporal CLI's JSON export, written
 * to test/replay/histories/<file>, and the workflow id in index.json (replay needs the original id:
 * child ids derive from it, and the export does not carry it).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "@temporalio/client";
import { findTemporalCli } from "../../src/services/temporalCli.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId, statusQuery, type CampaignStatus, type IterationStatus } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";

export const HISTORIES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../test/replay/histories");

export async function historySaver(env: { temporalAddress: string; namespace: string }, outDir = HISTORIES_DIR) {
  const temporalCli = await findTemporalCli();
  /** Writes `<file>` (a name ending in .json) with the history of the workflow (its latest run unless runId is given). */
  return (workflowId: string, file: string, runId?: string): void => {
    const args = ["workflow", "show", "--address", env.temporalAddress, "--namespace", env.namespace, "-w", workflowId, "-o", "json"];
    if (runId) args.push("-r", runId);
    const json = execFileSync(temporalCli, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    fs.writeFileSync(path.join(outDir, file), json);
    const indexFile = path.join(outDir, "index.json");
    const index = fs.existsSync(indexFile) ? (JSON.parse(fs.readFileSync(indexFile, "utf8")) as Record<string, string>) : {};
    index[file] = workflowId;
    fs.writeFileSync(indexFile, JSON.stringify(index, null, 2) + "\n");
    console.log(`wrote ${file} (${(JSON.parse(json) as { events: unknown[] }).events.length} events) for ${workflowId}`);
  };
}

/** What the recorders drive: a client and the task-queue prefix of their workers. */
interface RecordingEnv {
  client: Client;
  queuePrefix: string;
}

/** Starts a campaign named `replay-<name>-<time>` as `campaign start` would. */
export function startReplayCampaign(env: RecordingEnv, name: string, config: unknown) {
  const id = `replay-${name}-${Date.now()}`;
  return env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(id),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId: id }],
  });
}

/** The running iteration's status, through the campaign's status query. */
export async function iterationStatusOf(env: RecordingEnv, h: { query: (q: typeof statusQuery) => Promise<unknown> }): Promise<IterationStatus | undefined> {
  const c = (await h.query(statusQuery)) as CampaignStatus;
  return c.iterationWorkflowId ? ((await env.client.workflow.getHandle(c.iterationWorkflowId).query(statusQuery)) as IterationStatus) : undefined;
}

/** A small campaign whose LLM requests are not retried (the simulator's faults then fail its stage). */
export function failingCampaign(simUrl: string, over: Record<string, unknown>) {
  return simulatorCampaign(simUrl, {
    count: 10,
    batchSize: 5,
    concurrency: { batchesInParallel: 1 },
    ...over,
    endpoints: { sim: { baseUrl: simUrl, maxConcurrency: 8, timeoutMs: 10_000, maxRetries: 0 } },
  });
}
