/**
 * Where a campaign's outputs land, as the CLI prints it. Workers resolve `output.dir` against their
 * `--base-dir` (src/output/layout.ts); the CLI only knows the worker's folder when it is one, so a
 * relative `output.dir` is printed with that caveat.
 */
import fs from "node:fs";
import path from "node:path";
import { campaignOutputDir } from "../output/layout.js";

export function outputFolderLine(outputDir: string, campaignId: string, workerBaseDir?: string): string {
  if (workerBaseDir !== undefined || path.isAbsolute(outputDir)) return `outputs: ${campaignOutputDir(workerBaseDir ?? "/", outputDir, campaignId)}`;
  return `outputs: ${path.join(outputDir, campaignId)}/ under the worker's --base-dir (default: $TOOLLOOP_BASE_DIR, else the folder the worker was started in)`;
}

/** A short listing of a campaign's output folder: its top-level files and each iteration folder's entries. */
export function outputTreeLines(campaignDir: string): string[] {
  const entries = safeList(campaignDir);
  if (entries === undefined) return [`(no outputs at ${campaignDir})`];
  const lines: string[] = [];
  for (const e of entries.sort(byIteration)) {
    if (!e.isDirectory()) lines.push(e.name);
    else
      lines.push(
        `${e.name}/ ${(safeList(path.join(campaignDir, e.name)) ?? [])
          .map((c) => (c.isDirectory() ? `${c.name}/` : c.name))
          .sort()
          .join(" ")}`,
      );
  }
  return lines;
}

function safeList(dir: string): fs.Dirent[] | undefined {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
}

/** iter-2 before iter-10. */
function byIteration(a: fs.Dirent, b: fs.Dirent): number {
  const n = (d: fs.Dirent) => /^iter-(\d+)$/.exec(d.name)?.[1];
  const [x, y] = [n(a), n(b)];
  if (x !== undefined && y !== undefined) return Number(x) - Number(y);
  return a.name.localeCompare(b.name);
}
