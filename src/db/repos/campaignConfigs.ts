/** Frozen campaign configs by version (see schema.campaignConfigs). */
import { and, desc, eq, lte } from "drizzle-orm";
import type { FrozenCampaignConfig } from "../../config/frozen.js";
import type { Db } from "../client.js";
import { campaignConfigs } from "../schema.js";

export interface StoredConfig {
  version: number;
  sha256: string;
  frozen: FrozenCampaignConfig;
  appliesFromIteration: number;
}

const toStored = (r: typeof campaignConfigs.$inferSelect): StoredConfig => ({
  version: r.version,
  sha256: r.sha256,
  frozen: r.frozen as FrozenCampaignConfig,
  appliesFromIteration: r.appliesFromIteration,
});

export async function latestConfig(db: Db, campaignId: string): Promise<StoredConfig | undefined> {
  const rows = await db.select().from(campaignConfigs).where(eq(campaignConfigs.campaignId, campaignId)).orderBy(desc(campaignConfigs.version)).limit(1);
  return rows[0] && toStored(rows[0]);
}

/** The version in force for `iteration`: the newest that applies from it or earlier. */
export async function configForIteration(db: Db, campaignId: string, iteration: number): Promise<StoredConfig | undefined> {
  const rows = await db
    .select()
    .from(campaignConfigs)
    .where(and(eq(campaignConfigs.campaignId, campaignId), lte(campaignConfigs.appliesFromIteration, iteration)))
    .orderBy(desc(campaignConfigs.version))
    .limit(1);
  return rows[0] && toStored(rows[0]);
}

/** Stores a version; writing the same version again (a retried activity) changes nothing. */
export async function insertConfigVersion(db: Db, campaignId: string, c: StoredConfig): Promise<void> {
  await db
    .insert(campaignConfigs)
    .values({
      campaignId,
      version: c.version,
      sha256: c.sha256,
      schemaVersion: c.frozen.schemaVersion,
      frozen: c.frozen,
      appliesFromIteration: c.appliesFromIteration,
    })
    .onConflictDoNothing();
}
