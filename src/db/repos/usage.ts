import { sql } from "drizzle-orm";
import type { Db } from "../client.js";
import type { UsageRow } from "../../llm/usage.js";
import { llmUsage } from "../schema.js";

export type { UsageRow };

/** Adds to the running totals per (campaign, iteration, stage, role, model). */
export async function addUsage(db: Db, key: { campaignId: string; iteration: number; stage: string }, rows: UsageRow[]): Promise<void> {
  for (const r of rows) {
    await db
      .insert(llmUsage)
      .values({ ...key, ...r })
      .onConflictDoUpdate({
        target: [llmUsage.campaignId, llmUsage.iteration, llmUsage.stage, llmUsage.role, llmUsage.model],
        set: {
          requests: sql`${llmUsage.requests} + ${r.requests}`,
          promptTokens: sql`${llmUsage.promptTokens} + ${r.promptTokens}`,
          completionTokens: sql`${llmUsage.completionTokens} + ${r.completionTokens}`,
          failures: sql`${llmUsage.failures} + ${r.failures}`,
        },
      });
  }
}
