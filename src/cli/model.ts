/**
 * `toolloop model list ID`: a campaign's policy lineage from model_versions (base -> checkpoint ->
 * merged -> served, per iteration, with the job and the training data that made each). Reads
 * PostgreSQL only: no worker or Temporal needed.
 */
import type { Command } from "commander";
import { openDatabase } from "../db/client.js";
import { getCampaign } from "../db/repos/campaigns.js";
import { listModelVersions, type ModelVersionRow } from "../db/repos/modelVersions.js";
import { cliEnv } from "./env.js";
import { CliError, EXIT_ENVIRONMENT } from "./errors.js";

export function registerModelCommands(program: Command): void {
  const model = program.command("model").description("the policy versions a campaign trained and served");
  model
    .command("list")
    .argument("<campaignId>")
    .option("--json", "print the rows as JSON")
    .description("the campaign's model versions, oldest first (needs DATABASE_URL)")
    .action(async (campaignId: string, opts: { json?: boolean }) => {
      const url = cliEnv().databaseUrl;
      if (!url) throw new CliError("model list reads PostgreSQL: set DATABASE_URL", EXIT_ENVIRONMENT);
      const db = await openDatabase(url, { transientRetry: { maxWaitMs: 0 } });
      try {
        const rows = await listModelVersions(db.db, campaignId);
        // No rows and no campaign: a mistyped id, not a campaign that has not trained yet.
        if (rows.length === 0 && !(await getCampaign(db.db, campaignId))) {
          throw new CliError(`no campaign ${JSON.stringify(campaignId)} in PostgreSQL; check the id (\`campaign list\` shows them)`);
        }
        if (opts.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        if (rows.length === 0) {
          console.log(`campaign ${campaignId} has no model versions yet (train.sft and train.grpo register them)`);
          return;
        }
        for (const line of formatModelVersions(rows)) console.log(line);
      } finally {
        await db.close();
      }
    });
}

/** Two lines per version: what and where, then its id, parent, job and training data counts. */
export function formatModelVersions(rows: ModelVersionRow[]): string[] {
  return rows.map((r) => {
    const where = r.url ? `${r.url} (${r.servedModel})` : (r.path ?? "");
    const data = (r.dataset as { counts?: Record<string, number> } | null)?.counts;
    return (
      `iteration ${r.iteration} ${r.kind.padEnd(10)} ${where}${r.simulated ? "  [SIMULATED]" : ""}\n` +
      `    id ${r.id}  from ${r.parentId ?? `base ${r.baseModel}`}${r.jobName ? `  job ${r.jobName}` : ""}${data ? `  data ${JSON.stringify(data)}` : ""}`
    );
  });
}
