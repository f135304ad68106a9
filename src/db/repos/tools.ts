import { eq, sql } from "drizzle-orm";
import type { McpTool } from "../../domain/types.js";
import type { Db } from "../client.js";
import { tools } from "../schema.js";

export async function upsertTools(db: Db, campaignId: string, rows: { tool: McpTool; source: string; domain?: string; hash: string }[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    await db
      .insert(tools)
      .values(chunk.map((r) => ({ campaignId, name: r.tool.name, domain: r.domain ?? null, source: r.source, definition: r.tool, hash: r.hash })))
      .onConflictDoUpdate({
        target: [tools.campaignId, tools.name],
        set: { definition: sql`excluded.definition`, hash: sql`excluded.hash`, source: sql`excluded.source`, domain: sql`excluded.domain` },
      });
  }
}

export async function listTools(db: Db, campaignId: string): Promise<{ tool: McpTool; domain: string | null }[]> {
  const rows = await db.select({ definition: tools.definition, domain: tools.domain, name: tools.name }).from(tools).where(eq(tools.campaignId, campaignId));
  // Code-point order, independent of the database's collation: slot tool choices depend on it.
  rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return rows.map((r) => ({ tool: r.definition, domain: r.domain }));
}
