/** Renders `campaign status` and `campaign list` for a terminal (pure: the view is built elsewhere). */
import type { CampaignListEntry } from "../status/campaignList.js";
import type { CampaignView, ContinuationFacts, ScheduledFacts, StageView } from "../status/campaignView.js";
import { formatCount, formatDuration, renderProgressLine } from "../status/progressLine.js";

const STATE_WORDS: Record<string, string> = {
  waiting_for_operator: "WAITING FOR OPERATOR",
  timed_out: "TIMED OUT",
  no_workflow: "NO WORKFLOW",
};
const stateWord = (s: string) => STATE_WORDS[s] ?? s.toUpperCase();

/** List cells stay on one line and readable; `status ID` shows the whole reason. */
const MAX_LIST_REASON = 160;
const oneLine = (text: string, max: number) => {
  const line = text.split("\n")[0] as string;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

function stageLine(s: StageView, width: number, waiting: boolean, paused: boolean, reason: string | undefined): string[] {
  const lines: string[] = [];
  const name = s.name.padEnd(width);
  if (s.job) {
    const steps = s.job.done !== undefined ? `, step ${formatCount(s.job.done)}${s.job.total !== undefined ? `/${formatCount(s.job.total)}` : ""}` : "";
    const metrics = Object.entries(s.job.metrics ?? {})
      .filter(([k]) => k !== "step")
      .slice(0, 4)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    lines.push(`  ${name}  ${s.status}  job ${s.job.name}: ${s.job.state}${steps}${metrics ? `, ${metrics}` : ""}`);
    if (s.job.note) lines.push(`  ${" ".repeat(width)}  ${s.job.note}`);
  } else if (s.status === "pending") {
    lines.push(`  ${name}  pending`);
  } else if (s.progress) {
    const elapsed = s.startedAt && s.finishedAt ? ` in ${formatDuration((Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000)}` : "";
    const note =
      s.status === "running"
        ? undefined
        : s.status === "failed"
          ? waiting
            ? "waiting for operator"
            : `failed (attempt ${s.attempts})`
          : `${s.status}${elapsed}`;
    const unit = s.dialogues ? { unit: "dialogues" } : {};
    const eta = paused && s.status === "running" ? { eta: "paused" } : {};
    lines.push(`  ${renderProgressLine(s.name, s.progress, { nameWidth: width, ...unit, ...eta, ...(note !== undefined ? { note } : {}) })}`);
  } else if (s.status === "succeeded" && s.itemsTotal === 0) {
    // A late iteration with nothing left (no probe mismatch to judge, no error seed to expand): say so.
    lines.push(`  ${name}  succeeded: nothing to do (no item planned)`);
  } else {
    lines.push(`  ${name}  ${s.status}${s.status === "failed" && waiting ? " (waiting for operator)" : ""}`);
  }
  if (s.dialogues) {
    const d = s.dialogues;
    // Only a running stage has dialogues in progress; a stopped or failed one's resume at their last turn on a rerun
    // ("unfinished" is the kept ones cut short, as `report build` says: "12 kept (3 unfinished)").
    const running = d.running > 0 ? `, ${formatCount(d.running)} ${s.status === "running" ? "in progress" : "left mid-dialogue"}` : "";
    const unfinished = d.keptUnfinished ? ` (${formatCount(d.keptUnfinished)} unfinished)` : "";
    lines.push(
      `  ${" ".repeat(width)}  dialogues: ${formatCount(d.kept)} kept${unfinished}, ${formatCount(d.dropped)} dropped, ${formatCount(d.failed)} failed${running}; ${formatCount(d.messages)} messages stored`,
    );
  }
  if (s.warning) lines.push(`  ${" ".repeat(width)}  warning: ${s.warning}`);
  // The campaign's reason line already quotes the waiting or failed stage's error.
  const quoted = reason !== undefined && s.error !== undefined && reason.includes(s.error);
  if (s.error && !quoted && (s.status === "failed" || s.status === "skipped")) lines.push(`  ${" ".repeat(width)}  error: ${s.error.split("\n")[0]}`);
  return lines;
}

/**
 * Which schedule started the campaign, for when, and what it continues from: up to which iteration,
 * and (when known) a policy it does not take and the schedule's runs it passed over, with why.
 */
export function scheduleLine(s: ScheduledFacts, c?: ContinuationFacts): string {
  let from = "started from scratch (no earlier run of the schedule had registered a policy)";
  if (s.continuesFrom) {
    const upTo = !c ? "" : c.upToIteration !== undefined ? `, up to its iteration ${c.upToIteration}` : ", which completed no iteration (what it made)";
    const notTaken = c?.policyNotTaken;
    from = notTaken
      ? `continues from ${s.continuesFrom}${upTo} (its pool; not its policy ${notTaken.id}, trained from base model ${notTaken.baseModel}: training starts from the configured baseModel ${notTaken.configuredBaseModel})`
      : `continues from ${s.continuesFrom}${upTo} (its policy and pool)`;
  }
  const passed = c?.passedOver?.length ? `; passed over ${c.passedOver.map((p) => `${p.campaignId} (${p.why})`).join(", ")}` : "";
  return `schedule: ${s.scheduleId}, run scheduled for ${s.scheduledAt}; ${from}${passed}`;
}

export function renderCampaignView(v: CampaignView, opts: { uiLink?: string } = {}): string {
  const it = v.iteration !== undefined ? `, iteration ${v.iteration}${v.iterationsTotal !== undefined ? `/${v.iterationsTotal}` : ""}` : "";
  const lines = [`campaign ${v.campaignId}${v.name ? ` (${v.name})` : ""}: ${stateWord(v.state)}${it}`];
  if (v.reason) lines.push(`reason: ${v.reason}`);
  if (v.workflowId) lines.push(`workflow: ${v.workflowId} ${v.workflowStatus ?? ""}${opts.uiLink ? `  ${opts.uiLink}` : ""}`.trimEnd());
  if (v.schedule) lines.push(scheduleLine(v.schedule, v.continuation));
  if (v.continuedPolicy) lines.push(`policy: ${v.continuedPolicy}`);
  if (v.stages.length > 0) {
    lines.push(`iteration ${v.iteration ?? "?"} stages${v.iterationStatus ? ` (${v.iterationStatus})` : ""}:`);
    const width = Math.max(...v.stages.map((s) => s.name.length));
    for (const s of v.stages)
      lines.push(...stageLine(s, width, v.state === "waiting_for_operator" && s.name === v.waitingStage, v.state === "paused", v.reason));
  }
  if (v.reportPath) lines.push(`report: ${v.reportPath}`);
  else if (v.outputDir) lines.push(`outputs: ${v.outputDir}`);
  if (v.nextCommands.length > 0) {
    lines.push(v.state === "waiting_for_operator" ? `stage ${v.waitingStage ?? "?"} waits for an operator; next:` : "next:");
    const width = Math.max(...v.nextCommands.map((c) => c.command.length));
    for (const c of v.nextCommands) lines.push(`  ${c.command.padEnd(width)}  # ${c.what}`);
  }
  for (const n of v.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}

export function renderCampaignList(rows: CampaignListEntry[]): string {
  if (rows.length === 0) return "no campaigns";
  const table = rows.map((r) => [
    r.campaignId,
    r.name || "-",
    r.state,
    r.iteration !== undefined ? `${r.iteration}${r.iterationsTotal !== undefined ? `/${r.iterationsTotal}` : ""}` : "-",
    r.stage ? `${r.stage} (${r.stageStatus ?? "?"})` : "-",
    r.updatedAt.replace("T", " ").replace(/\.\d+Z$/, "Z"),
    // A campaign only Temporal knows says so after its reason (a terminated one has both).
    [r.reason ? oneLine(r.reason, MAX_LIST_REASON) : undefined, r.note].filter(Boolean).join("; "),
  ]);
  const head = ["CAMPAIGN", "NAME", "STATE", "ITER", "STAGE", "UPDATED", "REASON"];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
  const fmt = (row: string[]) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [fmt(head), ...table.map(fmt)].join("\n");
}
