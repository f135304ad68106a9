/**
 * What the demo prints about the self-evolving loop, per iteration: the pool's composition, what the
 * probe found, the judges' verdicts and what was done with them, the label error rate of the pool
 * against the simulator's truth (only the demo and tests may know it: no stage reads it), and the
 * BFCL fast-probe score of the iteration's policy. Every number comes from the database or the truth
 * channel; none is written down in advance.
 */
import type { Db } from "../db/client.js";
import { loopFigures, poolSamples } from "../db/repos/loopReport.js";
import { policyScoresByIteration } from "../db/repos/reports.js";
import { labelErrorRate } from "../llm/simulator/truth.js";

const pct = (a: number, b: number) => (b === 0 ? "-" : `${((100 * a) / b).toFixed(1)}%`);
const list = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ") || "none";

export interface LoopIterationLine {
  iteration: number;
  poolSize: number;
  labelErrors: { wrong: number; total: number; rate: number };
  lines: string[];
}

export async function loopIterationLines(db: Db, campaignId: string, iterations: number): Promise<LoopIterationLine[]> {
  const scores = new Map((await policyScoresByIteration(db, campaignId)).map((s) => [s.iteration, s]));
  const out: LoopIterationLine[] = [];
  for (let it = 1; it <= iterations; it++) {
    const f = await loopFigures(db, campaignId, it);
    const pool = await poolSamples(db, campaignId, it);
    if (pool.length === 0 && f.probe.matched + f.probe.mismatched === 0) continue;
    const errors = labelErrorRate(pool);
    const poolSize = Object.values(f.pool).reduce((a, b) => a + b, 0);
    const probed = f.probe.matched + f.probe.mismatched;
    const fast = scores.get(it);
    const lines = [
      `iteration ${it}: pool ${poolSize} (${list(f.pool)}); left out: ${list(f.excluded)}`,
      `  label error rate of the pool (simulator truth): ${errors.wrong}/${errors.total} = ${pct(errors.wrong, errors.total)}`,
      `  probe.greedy: ${f.probe.matched}/${probed} labels reproduced (${pct(f.probe.matched, probed)}); ${f.probe.mismatched} mismatch${f.probe.mismatched === 1 ? "" : "es"} to the judges`,
      `  judges' verdicts: ${list(f.verdicts)} -> ${list(f.actions)}`,
      `  new samples: ${list(f.made)}`,
      `  BFCL fast probe of iteration ${it}'s policy: ${fast ? `${(fast.accuracy * 100).toFixed(1)}% of ${fast.total}${fast.simulated ? " (SIMULATED)" : ""}` : "not run"}`,
    ];
    out.push({ iteration: it, poolSize, labelErrors: errors, lines });
  }
  return out;
}
