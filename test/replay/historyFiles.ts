/**
 * Saving a recorded workflow history for the replay test: the Temporal CLI's JSON export, written
 * to test/replay/histories/<file>, and the workflow id in index.json (replay needs the original id:
 * child ids derive from it, and the export does not carry it).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findTemporalCli } from "../../src/services/temporalCli.js";

export const HISTORIES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../test/replay/histories");

export async function historySaver(env: { temporalAddress: string; namespace: string }, outDir = HISTORIES_DIR) {
  const temporalCli = await findTemporalCli();
  /** Writes `<file>` (a name ending in .json) with the history of the workflow (its latest run unless runId is given). */
  return (workflowId: string, file: string, runId?: string): void => {
    const args = ["workflow", "show", "--address", env.temporalAddress, "--namespace", env.namespace, "-w", workflowId, "-o", "json"];
    if (runId) args.push("-r", runId);
    const json = execFileSync(temporalCli, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    fs.writeFileSync(path.join(outDir, file), json);
    const indexFile = path.join(outDir, "index.json");
    const index = fs.existsSync(indexFile) ? (JSON.parse(fs.readFileSync(indexFile, "utf8")) as Record<string, string>) : {};
    index[file] = workflowId;
    fs.writeFileSync(indexFile, JSON.stringify(index, null, 2) + "\n");
    console.log(`wrote ${file} (${(JSON.parse(json) as { events: unknown[] }).events.length} events) for ${workflowId}`);
  };
}
