/**
 * Which weights a served policy's answers are of. serve.policy serves every attempt of an iteration
 * under the same name (`<campaign>-iter-N`), often at the same URL, and its model_versions id
 * (`<campaign>:<iteration>:served`) is the same too; so a retrained and re-served iteration looks,
 * by name, endpoint and id, exactly like the weights it replaced. Stages that reuse stored results
 * (evaluate.bfcl's result files, the fast probe's rows, probe.greedy, sample scores) compare this
 * identity instead: the version id plus a fingerprint of the checkpoint folder the server was started
 * on, recorded by serve.policy. A plain retry against the same served checkpoint (even a server
 * restarted on another port) keeps the identity, so hours of answers are still reused.
 */
import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import { eq } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { modelVersions } from "../db/schema.js";

/** Set on the server job's request: the fingerprint of the folder the job was started on (read back by collect). */
export const CHECKPOINT_FINGERPRINT_ENV = "TOOLLOOP_CHECKPOINT_FINGERPRINT";

/** Files up to this size are hashed whole; larger ones (weight shards) by size and mtime, which a retrain rewrites. */
const HASHED_FILE_BYTES = 1 << 20;

export interface ServedCheckpoint {
  /** model_versions.id of the served version (the same for every attempt of the iteration). */
  modelVersionId: string;
  /** The checkpoint folder served. */
  path: string | null;
  /** checkpointFingerprint of that folder when the server was started; `unfingerprinted:<job>` when it could not be read. */
  fingerprint: string;
  /** vllm or simulator: the same folder answers differently under each. */
  engine: string | null;
}

/**
 * A fingerprint of a checkpoint folder: every file's relative path, size and modification time, and
 * the content hash of the small ones (configs, the stand-in trainer's profile). Shards are not read
 * (tens of GB on a shared file system at every serve): a retrain writes them anew, which changes
 * their mtime even when their size stays the same. null when the folder cannot be read.
 */
export async function checkpointFingerprint(dir: string): Promise<string | null> {
  const lines: string[] = [];
  const visit = async (abs: string, rel: string): Promise<void> => {
    const entries = await fsp.readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const file = path.join(abs, e.name);
      const name = rel === "" ? e.name : `${rel}/${e.name}`;
      // Linked folders are not followed (a loop would never end); linked files (HF cache blobs) are.
      if (e.isDirectory()) await visit(file, name);
      else {
        const st = await fsp.stat(file).catch(() => undefined);
        if (!st?.isFile()) {
          lines.push(`${name}\t?`);
          continue;
        }
        const content = st.size <= HASHED_FILE_BYTES ? await fsp.readFile(file).catch(() => undefined) : undefined;
        lines.push(`${name}\t${st.size}\t${st.mtimeMs}${content ? `\t${createHash("sha256").update(content).digest("hex")}` : ""}`);
      }
    }
  };
  try {
    const st = await fsp.stat(dir);
    if (st.isFile()) lines.push(`.\t${st.size}\t${st.mtimeMs}`);
    else await visit(dir, "");
  } catch {
    return null;
  }
  return `sha256:${createHash("sha256").update(lines.join("\n")).digest("hex")}`;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The identity of a served model_versions row (rows served before fingerprints were kept: told apart by their server job). */
export function servedCheckpointOf(row: { id: string; path: string | null; jobName: string | null; details: unknown }): ServedCheckpoint {
  const details = isRecord(row.details) ? row.details : {};
  const checkpoint = isRecord(details.checkpoint) ? details.checkpoint : {};
  const fingerprint = typeof checkpoint.fingerprint === "string" && checkpoint.fingerprint !== "" ? checkpoint.fingerprint : undefined;
  return {
    modelVersionId: row.id,
    path: row.path,
    fingerprint: fingerprint ?? `unfingerprinted:${row.jobName ?? "unknown-job"}`,
    engine: typeof details.engine === "string" ? details.engine : null,
  };
}

/** What a stored result's details (a jsonb column) name as the served checkpoint it was measured on; absent in older rows or odd details. */
export function servedCheckpointIn(details: unknown): unknown {
  return isRecord(details) ? details.servedCheckpoint : undefined;
}

/** The served checkpoint a stage step's policy role points at; null for the configured (never served) policy. */
export async function servedCheckpointFor(db: Db, policyVersionId: string | null): Promise<ServedCheckpoint | null> {
  if (policyVersionId === null) return null;
  const [row] = await db.select().from(modelVersions).where(eq(modelVersions.id, policyVersionId)).limit(1);
  // The activity resolved the id from this table a moment ago; a row gone since cannot be matched to anything stored.
  if (!row) return { modelVersionId: policyVersionId, path: null, fingerprint: "unregistered", engine: null };
  return servedCheckpointOf(row);
}

/**
 * Whether a result recorded with `stored` (what was written as `servedCheckpoint`) was measured on
 * the `current` served weights. For the configured policy (current null) only results that name no
 * served checkpoint qualify (the model name is compared by the caller, as before). For a served
 * policy, a result that names none was stored before identities were kept: which weights it measured
 * cannot be told, so it is measured again.
 */
export function sameServedCheckpoint(stored: unknown, current: ServedCheckpoint | null): boolean {
  if (current === null) return stored === undefined || stored === null;
  if (!isRecord(stored)) return false;
  return (
    stored.modelVersionId === current.modelVersionId &&
    stored.fingerprint === current.fingerprint &&
    (stored.path ?? null) === current.path &&
    (stored.engine ?? null) === current.engine
  );
}
