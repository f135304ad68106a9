/** What the demo prints about the loop's training jobs. */
import { listCampaignStageJobs } from "../db/repos/clusterJobs.js";
import type { Db } from "../db/client.js";

/** One line per training job: where it got to and its reward (the last metric line it printed). */
export async function trainingJobLines(db: Db, campaignId: string): Promise<string[]> {
  return (await listCampaignStageJobs(db, campaignId, "train.grpo")).map((r) => {
    const p = (r.progress ?? {}) as { done?: number; total?: number; metrics?: Record<string, number> };
    const score = p.metrics?.["critic/score/mean"];
    const val = Object.entries(p.metrics ?? {}).find(([k]) => k.startsWith("val-core/"));
    return (
      `train.grpo iteration ${r.iteration} (attempt ${r.attempt}): ${r.state}, step ${p.done ?? "?"}${p.total ? `/${p.total}` : ""}` +
      `${score !== undefined ? `, reward mean ${score}` : ""}${val ? `, ${val[0]} ${val[1]}` : ""}`
    );
  });
}
