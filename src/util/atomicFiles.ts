/**
 * Files written under a temporary name in their final folder and renamed into place, so a crash
 * never leaves a half-written file under a final name. Shared by the dataset exports.
 */
import { randomBytes } from "node:crypto";
import { open, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";

/** Temp files older than this are leftovers of a killed write, not one in progress. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** A hidden, unique temp name next to `finalName` (same folder, so the rename is atomic). */
export function tempPath(dir: string, finalName: string): string {
  return path.join(dir, `.${finalName}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

/** Removes temp files of these final names a killed write left behind (recent ones may belong to a concurrent attempt). */
export async function sweepStaleTemps(dir: string, finalNames: readonly string[]): Promise<void> {
  const now = Date.now();
  for (const entry of await readdir(dir)) {
    if (!entry.endsWith(".tmp") || !finalNames.some((n) => entry.startsWith(`.${n}.`))) continue;
    const full = path.join(dir, entry);
    const info = await stat(full).catch(() => undefined);
    if (info && now - info.mtimeMs > STALE_TEMP_MS) await rm(full, { force: true });
  }
}

/** Makes the renames themselves durable; not every platform can fsync a directory, hence best effort. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r").catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}
