/**
 * Fixed batch membership of selection stages: planning writes which samples each batch reads, in one
 * statement over the selection; batches then read exactly those ids, whatever rows appear later.
 */
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import type { SampleSelection } from "../../framework/stageSpec.js";
import type { Db } from "../client.js";
import { labelJudgements, poolMembers, probeResults, samples, stageBatchItems } from "../schema.js";
import type { StageKey } from "./stages.js";

const keyWhere = (k: StageKey) =>
  and(eq(stageBatchItems.campaignId, k.campaignId), eq(stageBatchItems.iteration, k.iteration), eq(stageBatchItems.stage, k.stage));

/** The samples a scope covers, as a condition on `samples` (see SampleSelection.scope). */
function scopeCondition(k: StageKey, scope: SampleSelection["scope"]) {
  switch (scope) {
    case "iteration":
      return sql`iteration = ${k.iteration}`;
    case "pool":
      return sql`id IN (SELECT ${poolMembers.sampleId} FROM ${poolMembers} WHERE ${poolMembers.campaignId} = ${k.campaignId} AND ${poolMembers.iteration} = ${k.iteration})`;
    case "probeMismatches":
      return sql`id IN (SELECT ${probeResults.sampleId} FROM ${probeResults} WHERE ${probeResults.campaignId} = ${k.campaignId} AND ${probeResults.iteration} = ${k.iteration} AND ${probeResults.match} = false)`;
    case "errorSeeds":
      return sql`id IN (SELECT ${labelJudgements.sampleId} FROM ${labelJudgements} WHERE ${labelJudgements.campaignId} = ${k.campaignId} AND ${labelJudgements.iteration} = ${k.iteration} AND ${labelJudgements.action} = 'error_seed')`;
  }
}

/**
 * Plans the selected samples into batches of `batchSize` in id order (or all into batch 0), replacing
 * any earlier plan of this stage. Returns how many samples and batches it planned.
 */
export async function planSelection(
  db: Db,
  k: StageKey,
  selection: SampleSelection,
  batchSize: number,
  oneBatch: boolean,
): Promise<{ items: number; batches: number }> {
  // Pool, mismatch and error-seed scopes are the campaign's own rows already; their samples may be an
  // earlier campaign's (the pool a scheduled run continues from). An iteration's samples are its own.
  const conds =
    selection.scope === "iteration" ? [sql`campaign_id = ${k.campaignId}`, scopeCondition(k, selection.scope)] : [scopeCondition(k, selection.scope)];
  if (selection.origins)
    conds.push(
      selection.origins.length
        ? sql`origin IN (${sql.join(
            selection.origins.map((o) => sql`${o}`),
            sql`, `,
          )})`
        : sql`false`,
    );
  if (selection.statuses)
    conds.push(
      selection.statuses.length
        ? sql`status IN (${sql.join(
            selection.statuses.map((s) => sql`${s}`),
            sql`, `,
          )})`
        : sql`false`,
    );
  const batchOf = oneBatch ? sql`0` : sql`((row_number() OVER (ORDER BY id)) - 1) / ${batchSize}`;
  return db.transaction(async (tx) => {
    await tx.delete(stageBatchItems).where(keyWhere(k));
    await tx.execute(sql`
      INSERT INTO ${stageBatchItems} (campaign_id, iteration, stage, batch_index, sample_id)
      SELECT ${k.campaignId}, ${k.iteration}, ${k.stage}, ${batchOf}, id FROM ${samples} WHERE ${sql.join(conds, sql` AND `)}`);
    const rows = await tx
      .select({ items: sql<number>`count(*)::int`, batches: sql<number>`coalesce(max(${stageBatchItems.batchIndex}) + 1, 0)::int` })
      .from(stageBatchItems)
      .where(keyWhere(k));
    const items = Number(rows[0]?.items ?? 0);
    return { items, batches: oneBatch ? 1 : Number(rows[0]?.batches ?? 0) };
  });
}

/** A page of one batch's samples in id order (`afterId` for the next page). */
export async function pageBatchSamples(db: Db, k: StageKey, batchIndex: number, page: { afterId?: string; limit: number }) {
  const conds = [keyWhere(k), eq(stageBatchItems.batchIndex, batchIndex)];
  if (page.afterId !== undefined) conds.push(gt(stageBatchItems.sampleId, page.afterId));
  const ids = db
    .select({ id: stageBatchItems.sampleId })
    .from(stageBatchItems)
    .where(and(...conds))
    .orderBy(asc(stageBatchItems.sampleId))
    .limit(page.limit);
  return db.select().from(samples).where(inArray(samples.id, ids)).orderBy(asc(samples.id));
}

/** The sample ids of one batch, in order (for tests and audits). */
export async function batchSampleIds(db: Db, k: StageKey, batchIndex: number): Promise<string[]> {
  const rows = await db
    .select({ id: stageBatchItems.sampleId })
    .from(stageBatchItems)
    .where(and(keyWhere(k), eq(stageBatchItems.batchIndex, batchIndex)))
    .orderBy(asc(stageBatchItems.sampleId));
  return rows.map((r) => r.id);
}
