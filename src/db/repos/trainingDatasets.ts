/** The verl datasets export.verl wrote (training_datasets), one per campaign and iteration. */
import { and, desc, eq, lte } from "drizzle-orm";
import { verlDatasetPaths, type VerlManifest } from "../../training/verl/dataset.js";
import type { Db } from "../client.js";
import { trainingDatasets } from "../schema.js";

export interface TrainingDataset {
  iteration: number;
  manifest: VerlManifest;
  paths: { dir: string; manifest: string; train: string; val: string; sampleIds: string; sft?: string; sftParquet?: string };
}

/** Idempotent: a retried export replaces its iteration's row. */
export async function recordTrainingDataset(db: Db, d: { campaignId: string; iteration: number; dir: string; manifest: VerlManifest }): Promise<void> {
  await db
    .insert(trainingDatasets)
    .values({ campaignId: d.campaignId, iteration: d.iteration, dir: d.dir, manifest: d.manifest })
    .onConflictDoUpdate({
      target: [trainingDatasets.campaignId, trainingDatasets.iteration],
      set: { dir: d.dir, manifest: d.manifest, createdAt: new Date() },
    });
}

/** The newest dataset of an iteration at or before `iteration` (an iteration without an export trains on the last one). */
export async function latestTrainingDataset(db: Db, campaignId: string, iteration: number): Promise<TrainingDataset | undefined> {
  const rows = await db
    .select()
    .from(trainingDatasets)
    .where(and(eq(trainingDatasets.campaignId, campaignId), lte(trainingDatasets.iteration, iteration)))
    .orderBy(desc(trainingDatasets.iteration))
    .limit(1);
  const row = rows[0];
  if (!row) return undefined;
  const manifest = row.manifest as VerlManifest;
  const { sft, sftParquet, ...paths } = verlDatasetPaths(row.dir);
  return {
    iteration: row.iteration,
    manifest,
    paths: { ...paths, ...(manifest.files.sft ? { sft } : {}), ...(manifest.files.sftParquet ? { sftParquet } : {}) },
  };
}
