/**
 * Reading what a verl job leaves behind: the newest checkpoint step (verl writes
 * `latest_checkpointed_iteration.txt` next to `global_step_N/`) and its metric lines
 * (`step:12 - critic/score/mean:0.41 - ...`), for progress and for the model version's record.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";

export const LATEST_CHECKPOINT_FILE = "latest_checkpointed_iteration.txt";

/** The newest saved step under a checkpoint folder, or undefined when none is saved yet. */
export async function latestCheckpointStep(checkpointDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(checkpointDir, LATEST_CHECKPOINT_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const n = Number(text.trim());
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

export function checkpointActorDir(checkpointDir: string, step: number): string {
  return path.join(checkpointDir, `global_step_${step}`, "actor");
}

export interface MetricLine {
  step: number;
  metrics: Record<string, number>;
}

/** One verl console metric line (`step:N - key:value - ...`), or undefined for any other line. */
export function parseMetricLine(line: string): MetricLine | undefined {
  const m = /(?:^|\s)step:(\d+)\s+-\s+(.*)$/.exec(line.trim());
  if (!m) return undefined;
  const metrics: Record<string, number> = {};
  for (const part of (m[2] ?? "").split(" - ")) {
    const i = part.lastIndexOf(":");
    if (i <= 0) continue;
    const v = Number(part.slice(i + 1).trim());
    if (Number.isFinite(v)) metrics[part.slice(0, i).trim()] = v;
  }
  return { step: Number(m[1]), metrics };
}

/** The last metric line in a log tail. */
export function lastMetricLine(logTail: string): MetricLine | undefined {
  const lines = logTail.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const parsed = parseMetricLine(lines[i] ?? "");
    if (parsed) return parsed;
  }
  return undefined;
}

/** Only the metrics a status line shows (score, reward, lengths), rounded; the full set stays in the log. */
export function headlineMetrics(metrics: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) {
    if (/score\/mean|rewards\/mean|response_length\/mean|actor\/pg_loss|actor\/kl_loss|val/.test(k)) out[k] = Math.round(v * 1e4) / 1e4;
  }
  return out;
}
