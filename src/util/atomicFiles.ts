/**
 * Files written under a temporary name in their final folder and renamed into place, so a crash
 * never leaves a half-written file under a final name. Shared by the dataset exports, the reports,
 * the reward shim, BFCL result files and the Slurm launcher's scripts.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

/** Temp files older than this are leftovers of a killed write, not one in progress. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** A hidden, unique temp name next to `finalName` (same folder, so the rename is atomic). */
export function tempPath(dir: string, finalName: string): string {
  return path.join(dir, `.${finalName}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

/**
 * Writes `content` to `file` through a unique temp file beside it and a rename: a reader never sees
 * half a file, and two writers of one file (a retried activity beside the attempt it replaced, in one
 * process) never share a temp file, as they did when the temp name was the file's plus the pid. A
 * failed write or rename (the target is a folder, a read-only place) leaves no temp file behind.
 */
export async function writeFileAtomic(file: string, content: string | Uint8Array, opts: { mode?: number } = {}): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = tempPath(dir, path.basename(file));
  try {
    await writeFile(tmp, content, opts.mode !== undefined ? { mode: opts.mode } : {});
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** writeFileAtomic for synchronous callers. */
export function writeFileAtomicSync(file: string, content: string | Uint8Array, opts: { mode?: number } = {}): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = tempPath(dir, path.basename(file));
  try {
    fs.writeFileSync(tmp, content, opts.mode !== undefined ? { mode: opts.mode } : {});
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
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
