/**
 * What the Temporal UI shows of a campaign and its iterations: the current details (markdown, read
 * by the UI through the workflow metadata query), summaries of children and activities, the memo,
 * and the first real error of a failure. Pure: workflows import it, and so do unit tests.
 */
import type { CampaignStatus, IterationStatus, StageStatus } from "./definitions.js";

/**
 * Workflows started since this patch end as Canceled on abort (the `abort` signal or a cancel
 * request), fail with the first real error, carry a memo, and take internal progress signals
 * through a default handler (so the UI lists only operator controls).
 */
export const PATCH_OPERATOR_SURFACE = "operator-surface-v1";

/** Said when a cancel request arrives without an `abort` signal (the UI's Cancel button, `temporal workflow cancel`). */
export const CANCEL_WITHOUT_REASON = "cancel requested (Temporal UI, `temporal workflow cancel` or the API) without an abort reason";

/** Where the reports of src/output/layout.ts land, from the plan's absolute campaign folder (workflows cannot import node:path). */
export function reportPaths(outputDir: string | undefined, iteration: number): { campaignReport?: string; iterationReport?: string } {
  if (!outputDir) return {};
  const dir = outputDir.replace(/\/+$/, "");
  return { campaignReport: `${dir}/report.html`, iterationReport: `${dir}/iter-${iteration}/report.html` };
}

/** The memo: what an operator needs to find the campaign's config and outputs. */
export function campaignMemo(p: { campaignId: string; configVersion: number; configHash: string; outputDir?: string }): Record<string, unknown> {
  return {
    campaignId: p.campaignId,
    configVersion: p.configVersion,
    configHash: p.configHash,
    ...(p.outputDir ? { outputDir: p.outputDir, report: reportPaths(p.outputDir, 1).campaignReport } : {}),
  };
}

/** The exact CLI commands an operator runs next, by state. */
export function nextCommands(campaignId: string, state: CampaignStatus["state"]): string[] {
  const cmd = (rest: string) => `toolloop campaign ${rest} ${campaignId}`;
  switch (state) {
    case "waiting_for_operator":
      return [cmd("retry-stage"), cmd("skip-stage"), `${cmd("abort")} --reason "..."`];
    case "paused":
      return [cmd("resume"), `${cmd("abort")} --reason "..."`];
    case "running":
      return [cmd("status"), cmd("pause"), `${cmd("abort")} --reason "..."`];
    default:
      return [cmd("status")];
  }
}

const compact = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");

/** A stage line; a stage still marked running in an iteration that ended says it was stopped. */
export function stageLine(s: StageStatus, runState?: IterationStatus["state"]): string {
  const ended = runState === "aborted" || runState === "failed" || runState === "completed";
  const state = ended && s.state === "running" ? `stopped (${runState})` : s.state.replace(/_/g, " ");
  const parts = [`**${s.name}**: ${state}`];
  if (s.batchesTotal > 0) parts.push(`batches ${s.batchesDone} of ${s.batchesTotal}`);
  if (s.itemsTotal > 0) parts.push(`items ${s.itemsDone} of ${s.itemsTotal}`);
  if (s.job) parts.push(`job ${s.job.name} ${s.job.state}${s.job.total ? ` ${s.job.done ?? 0} of ${s.job.total}` : ""}`);
  const counts = compact(s.counts);
  if (counts) parts.push(counts);
  if (s.attempts > 1) parts.push(`attempt ${s.attempts}`);
  return `- ${parts.join(" · ")}`;
}

/** Markdown of the iteration's stages, the one waiting and why. */
function stagesBlock(it: IterationStatus, runState: IterationStatus["state"] = it.state): string[] {
  const lines = it.stages.map((s) => stageLine(s, runState));
  const waiting = it.stages.find((s) => s.state === "waiting_for_operator");
  if (waiting) lines.push("", `**Waiting for an operator**: stage ${waiting.name} failed: ${waiting.lastError ?? "(no message)"}`);
  return lines;
}

export interface CampaignView {
  configVersion?: number;
  configHash?: string;
  outputDir?: string;
}

/** The campaign workflow's current details. */
export function campaignDetails(status: CampaignStatus, view: CampaignView): string {
  const it = status.currentIteration;
  const head = [
    `**Campaign ${status.campaignId}**${status.name ? ` (${status.name})` : ""}: ${status.state.replace(/_/g, " ")}${status.paused ? " (paused)" : ""}`,
  ];
  head.push("", `Iteration ${status.iteration} of ${status.iterationsTotal || "?"}${it?.currentStage ? ` · stage ${it.currentStage}` : ""}`);
  const lines = [...head, ""];
  // The iteration's last report may predate the campaign's end (an abort): the campaign's state wins then.
  const ended = status.state === "aborted" || status.state === "failed" || status.state === "completed";
  if (it && it.iteration === status.iteration) lines.push(...stagesBlock(it, ended ? status.state : it.state), "");
  if (status.lastError && status.state !== "waiting_for_operator") lines.push(`**Last error**: ${status.lastError}`, "");
  lines.push("**Next commands**:", "", ...nextCommands(status.campaignId, status.state).map((c) => `- \`${c}\``), "");
  const reports = reportPaths(view.outputDir, status.iteration);
  if (reports.campaignReport) lines.push(`**Report**: ${reports.campaignReport} (iteration: ${reports.iterationReport})`, "");
  if (view.outputDir) lines.push(`**Output folder**: ${view.outputDir}`, "");
  if (view.configHash) lines.push(`**Config**: version ${view.configVersion ?? "?"}, sha256 ${view.configHash}`);
  return lines.join("\n").trim();
}

/** The iteration workflow's current details. */
export function iterationDetails(status: IterationStatus, outputDir?: string): string {
  const lines = [
    `**Iteration ${status.iteration} of campaign ${status.campaignId}**: ${status.state.replace(/_/g, " ")}${status.currentStage ? ` · stage ${status.currentStage}` : ""}`,
    "",
    ...stagesBlock(status),
    "",
  ];
  // A waiting stage's error is said above; lastError adds what else went wrong (an abort's reason).
  if (status.lastError && !status.stages.some((s) => s.state === "waiting_for_operator")) lines.push(`**Last error**: ${status.lastError}`, "");
  lines.push("**Next commands** (sent to the campaign):", "", ...nextCommands(status.campaignId, status.state).map((c) => `- \`${c}\``));
  const reports = reportPaths(outputDir, status.iteration);
  if (reports.iterationReport) lines.push("", `**Report**: ${reports.iterationReport}`);
  return lines.join("\n").trim();
}

/** One line: a child iteration's summary in the campaign's history. */
export function iterationSummary(campaignId: string, iteration: number, iterationsTotal: number): string {
  return `iteration ${iteration} of ${iterationsTotal} of campaign ${campaignId}`;
}

interface FailureLike {
  message?: string;
  type?: string | null;
  nonRetryable?: boolean;
  cause?: unknown;
  name?: string;
}

/**
 * The first real error in a failure chain: the innermost application failure (its message and type),
 * not the wrappers "Child Workflow execution failed" / "Activity task failed" around it.
 */
export function firstRealError(err: unknown): { message: string; type?: string } {
  let e: unknown = err;
  let app: FailureLike | undefined;
  const messages: string[] = [];
  while (e instanceof Error) {
    const f = e as FailureLike;
    if (f.name === "ApplicationFailure" || (f.type !== undefined && f.type !== null)) app = f;
    if (f.message) messages.push(f.message);
    e = f.cause;
  }
  if (app?.message) return { message: app.message, ...(app.type ? { type: app.type } : {}) };
  const real = messages.filter((m) => !/^(Child Workflow execution failed|Activity task failed)$/.test(m));
  return { message: real.join(": ") || messages.join(": ") || String(err) };
}
