/** Application failures per activity execution (see schema.activityFailures). */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { activityFailures } from "../schema.js";

export interface ActivityFailureRow {
  workflowId: string;
  runId: string;
  activityId: string;
  attempt: number;
  activityType: string;
  errorType: string;
  message: string;
}

/** Records one failed attempt (idempotent per attempt) and returns how many attempts of this activity have failed so far. */
export async function recordActivityFailure(db: Db, row: ActivityFailureRow): Promise<number> {
  await db.insert(activityFailures).values(row).onConflictDoNothing();
  const rows = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(activityFailures)
    .where(and(eq(activityFailures.runId, row.runId), eq(activityFailures.activityId, row.activityId)));
  return Number(rows[0]?.n ?? 0);
}
