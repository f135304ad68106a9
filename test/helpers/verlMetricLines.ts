/**
 * verl console metric lines (`step:N - key:value - ...`), for tests of the stand-in trainer. A copy
 * of parseMetricLine/lastMetricLine from src/training/jobOutputs.ts (the integrator's), so the
 * stand-in's lines are checked against the parser the training stages use.
 */
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
