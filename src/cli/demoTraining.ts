/** What the demo prints and tidies about the loop: evaluation per iteration with the policy it asked, and serving jobs it stops. */
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { bfclScores, clusterJobs, llmRequests } from "../db/schema.js";
import { createLauncher } from "../training/launchers/index.js";
import type { LauncherKind } from "../training/launchers/launcher.js";
import type { LauncherConfig } from "../training/launchers/config.js";

export interface PolicyScore {
  iteration: number;
  accuracy: number;
  total: number;
  /** The policy models the evaluation asked (from the request ledger). */
  models: string[];
}

export async function policyScoresByIteration(db: Db, campaignId: string): Promise<PolicyScore[]> {
  const scores = await db
    .select()
    .from(bfclScores)
    .where(and(eq(bfclScores.campaignId, campaignId), eq(bfclScores.category, "overall_probe")))
    .orderBy(bfclScores.iteration);
  const out: PolicyScore[] = [];
  for (const s of scores) {
    const models = await db
      .selectDistinct({ model: llmRequests.model })
      .from(llmRequests)
      .where(
        and(
          eq(llmRequests.campaignId, campaignId),
          eq(llmRequests.iteration, s.iteration),
          eq(llmRequests.stage, "evaluate.bfclFast"),
          eq(llmRequests.role, "policy"),
        ),
      );
    out.push({ iteration: s.iteration, accuracy: s.accuracy, total: s.total, models: models.map((m) => m.model) });
  }
  return out;
}

/** Serving jobs keep running after their stage (the next iteration calls them); the demo stops its own at the end. */
export async function stopServedPolicies(db: Db, campaignId: string, launcherConfig: LauncherConfig, log: (m: string) => void): Promise<void> {
  const launcher = createLauncher(launcherConfig, { log });
  const rows = await db
    .select()
    .from(clusterJobs)
    .where(and(eq(clusterJobs.campaignId, campaignId), eq(clusterJobs.stage, "serve.policy"), inArray(clusterJobs.state, ["pending", "running", "succeeded"])));
  for (const row of rows) {
    if (!row.externalId) continue;
    await launcher
      .cancel({ launcher: row.launcher as LauncherKind, name: row.name, externalId: row.externalId })
      .catch((e: unknown) => log(`could not stop ${row.name}: ${String(e)}`));
    log(`stopped the served policy ${row.name}`);
  }
}

/** One line per training job: where it got to and its reward (the last metric line it printed). */
export async function trainingJobLines(db: Db, campaignId: string): Promise<string[]> {
  const rows = await db
    .select()
    .from(clusterJobs)
    .where(and(eq(clusterJobs.campaignId, campaignId), eq(clusterJobs.stage, "train.grpo")))
    .orderBy(clusterJobs.iteration, clusterJobs.attempt);
  return rows.map((r) => {
    const p = (r.progress ?? {}) as { done?: number; total?: number; metrics?: Record<string, number> };
    const score = p.metrics?.["critic/score/mean"];
    const val = Object.entries(p.metrics ?? {}).find(([k]) => k.startsWith("val-core/"));
    return (
      `train.grpo iteration ${r.iteration} (attempt ${r.attempt}): ${r.state}, step ${p.done ?? "?"}${p.total ? `/${p.total}` : ""}` +
      `${score !== undefined ? `, reward mean ${score}` : ""}${val ? `, ${val[0]} ${val[1]}` : ""}`
    );
  });
}
