/** The policy's lineage (model_versions): written idempotently by training, merge and serving stages. */
import { and, desc, eq, lt, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { modelVersions, type ModelVersionKind } from "../schema.js";
import type { DeletedCheckpoints } from "../../training/checkpointRetention.js";

export type ModelVersionRow = typeof modelVersions.$inferSelect;
export type NewModelVersion = Omit<typeof modelVersions.$inferInsert, "id" | "createdAt">;

export function modelVersionId(campaignId: string, iteration: number, kind: ModelVersionKind): string {
  return `${campaignId}:${iteration}:${kind}`;
}

/** Writes a version; a re-run of the same step replaces its row (same id), never adds a second. */
export async function upsertModelVersion(db: Db, v: NewModelVersion): Promise<string> {
  const id = modelVersionId(v.campaignId, v.iteration, v.kind);
  const { campaignId: _c, iteration: _i, kind: _k, ...rest } = v;
  await db
    .insert(modelVersions)
    .values({ id, ...v })
    .onConflictDoUpdate({ target: modelVersions.id, set: rest });
  return id;
}

export async function getModelVersion(db: Db, campaignId: string, iteration: number, kind: ModelVersionKind): Promise<ModelVersionRow | undefined> {
  const rows = await db
    .select()
    .from(modelVersions)
    .where(eq(modelVersions.id, modelVersionId(campaignId, iteration, kind)))
    .limit(1);
  return rows[0];
}

/** The newest version of a kind made in an iteration before `beforeIteration`. */
export async function latestModelVersion(db: Db, campaignId: string, kind: ModelVersionKind, beforeIteration: number): Promise<ModelVersionRow | undefined> {
  const rows = await db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.campaignId, campaignId), eq(modelVersions.kind, kind), lt(modelVersions.iteration, beforeIteration)))
    .orderBy(desc(modelVersions.iteration))
    .limit(1);
  return rows[0];
}

export async function listModelVersions(db: Db, campaignId: string): Promise<ModelVersionRow[]> {
  return db.select().from(modelVersions).where(eq(modelVersions.campaignId, campaignId)).orderBy(modelVersions.iteration, modelVersions.createdAt);
}

/** The checkpoint steps a version was trained in that were deleted after its merge, if any. */
export function checkpointsDeletedOf(v: Pick<ModelVersionRow, "details">): DeletedCheckpoints | undefined {
  const d = (v.details as { checkpointsDeleted?: DeletedCheckpoints } | null)?.checkpointsDeleted;
  return d && typeof d === "object" ? d : undefined;
}

/** Adds `checkpointsDeleted` to a version's details, keeping the rest of them. */
export async function recordCheckpointsDeleted(db: Db, id: string, deleted: DeletedCheckpoints): Promise<void> {
  await db
    .update(modelVersions)
    .set({ details: sql`coalesce(${modelVersions.details}, '{}'::jsonb) || ${JSON.stringify({ checkpointsDeleted: deleted })}::jsonb` })
    .where(eq(modelVersions.id, id));
}
