/** Renders campaign and iteration status for a terminal: one line per stage with a progress bar. */
import type { CampaignStatus, IterationStatus, StageStatus } from "../../workflows/definitions.js";
import { nextCommandsFor } from "../status/campaignView.js";
import { shownItemsDone } from "../status/progressLine.js";

export function progressBar(done: number, total: number, width = 24): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(frac * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%`;
}

/** A summary figure: counts as they are, a fraction (a score, a rate) to four significant digits. */
function summaryFigure(v: unknown): string {
  return typeof v === "number" && !Number.isInteger(v) && Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v);
}

function stageLine(s: StageStatus): string {
  const counts = Object.entries(s.counts)
    .filter(([k]) => k !== "items")
    .map(([k, v]) => `${k}=${summaryFigure(v)}`)
    .join(" ");
  // A stage of a resumed campaign whose batches had all finished before plans nothing this run.
  const nothingLeft = s.state === "succeeded" && s.itemsTotal === 0;
  const done = shownItemsDone(s.state, s.itemsDone, s.itemsTotal);
  const bar = s.state === "pending" ? " ".repeat(31) : nothingLeft ? progressBar(1, 1) : progressBar(done, s.itemsTotal);
  const items = nothingLeft ? "nothing left to do" : `${done}/${s.itemsTotal}`;
  const err = s.lastError ? `\n      last error: ${s.lastError}` : "";
  return `  ${s.name.padEnd(24)} ${s.state.padEnd(21)} ${bar} ${items} ${counts}${jobLine(s.job)}${err}`;
}

/** A cluster job under its stage: name, scheduler state, steps, headline metrics. */
export function jobLine(job: StageStatus["job"]): string {
  if (!job) return "";
  const steps = job.done !== undefined ? `, step ${job.done}${job.total !== undefined ? `/${job.total}` : ""}` : "";
  const metrics = Object.entries(job.metrics ?? {})
    .filter(([k]) => k !== "step")
    .slice(0, 4)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return `\n      job ${job.name}: ${job.state}${steps}${metrics ? `, ${metrics}` : ""}`;
}

export function renderStatus(c: CampaignStatus, it?: IterationStatus): string {
  // Until the workflow has registered its config it knows neither the name nor the iteration count.
  const registered = c.iterationsTotal > 0;
  const head = `campaign ${c.campaignId}${c.name ? ` (${c.name})` : ""}: ${c.state}${c.paused ? " (paused)" : ""}`;
  const lines = [registered ? `${head}, iteration ${c.iteration}/${c.iterationsTotal}` : `${head}, registering its config`];
  const current = it ?? c.currentIteration;
  if (current) {
    lines.push(`iteration ${current.iteration}: ${current.state}${c.iterationWorkflowId ? ` (workflow ${c.iterationWorkflowId})` : ""}`);
    for (const s of current.stages) lines.push(stageLine(s));
  }
  for (const done of c.completedIterations.slice(-5)) {
    lines.push(`  done: iteration ${done.iteration} ${done.state}, samples written ${JSON.stringify(done.samples)}`);
  }
  if (c.lastError) lines.push(`last error: ${c.lastError}`);
  // Following a campaign that waits (for an operator, or a resume) would otherwise only sit there.
  const waiting = c.state === "waiting_for_operator" || current?.state === "waiting_for_operator" ? "waiting_for_operator" : c.paused ? "paused" : undefined;
  if (waiting) {
    const next = nextCommandsFor(waiting, c.campaignId);
    const width = Math.max(...next.map((n) => n.command.length));
    lines.push(
      `${waiting === "paused" ? "paused" : "waiting for an operator"}; next (from another terminal; this one keeps following until the campaign ends):`,
    );
    for (const n of next) lines.push(`  ${n.command.padEnd(width)}  # ${n.what}`);
  }
  return lines.join("\n");
}

/**
 * The entries of a refreshed view that the view printed before lacks, in order: what a log (stdout not
 * a terminal) gets on each refresh, so unchanged stages and the `done:` lines are not repeated. An
 * entry is a line with the deeper-indented lines under it (a stage's job and last error), so a changed
 * stage prints whole.
 */
export function changedEntries(previous: string, next: string): string {
  const before = new Set(entriesOf(previous));
  return entriesOf(next)
    .filter((e) => !before.has(e))
    .join("\n");
}

function entriesOf(view: string): string[] {
  const entries: string[] = [];
  for (const line of view.split("\n")) {
    if (line.startsWith("    ") && entries.length > 0) entries[entries.length - 1] += `\n${line}`;
    else entries.push(line);
  }
  return entries;
}
