/**
 * Freeing an iteration's training checkpoints once its merged model is in place (the train stages'
 * `deleteCheckpointsAfterMerge`). A verl checkpoint step holds the model's shards and the
 * optimizer's state, several times the merged Hugging Face model; the loop never reads one again
 * after the merge (the next iteration, serving and evaluation start from the merged folder), so a
 * week-long campaign that keeps them all fills its disk. Plain module: file system only.
 */
import { lstat, readdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { formatBytes } from "../util/jsonFile.js";
import { LATEST_CHECKPOINT_FILE } from "./jobOutputs.js";

/** What was freed, as model_versions keeps it (details.checkpointsDeleted). */
export interface DeletedCheckpoints {
  /** The checkpoint folder that was emptied (verl's trainer.default_local_dir). */
  dir: string;
  /** The saved steps (global_step_N) that were deleted, ascending. */
  steps: number[];
  bytes: number;
  at: string;
  /** The merged model the checkpoints were kept for, checked before anything was deleted. */
  mergedModel: string;
}

/** Left in the emptied folder, so that whoever opens it knows where the steps went. */
export const DELETED_NOTE_FILE = "CHECKPOINTS_DELETED.txt";

const STEP_DIR = /^global_step_(\d+)(\.tmp\.\d+)?$/;

export class CheckpointRetentionError extends Error {}

/**
 * Whether a merged model folder is complete enough to be the version the loop goes on from: it
 * exists and holds the Hugging Face `config.json` the merge writes (verl's and the stand-in's).
 */
export async function mergedModelPresent(dir: string): Promise<boolean> {
  try {
    return (await stat(path.join(dir, "config.json"))).isFile();
  } catch {
    return false;
  }
}

/** Bytes under a path (files' sizes; links not followed). */
export async function diskBytes(p: string): Promise<number> {
  let info;
  try {
    info = await lstat(p);
  } catch {
    return 0;
  }
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(p)) total += await diskBytes(path.join(p, name));
  return total;
}

/**
 * Deletes the saved steps under `checkpointDir` (and half-written ones), after checking that
 * `mergedModel` is complete; idempotent: a second call finds nothing to delete and frees 0 bytes.
 * The latest-step file goes first, so a reader never follows it into a half-deleted step; a job
 * started later on the folder (retry-stage) finds no checkpoint and trains from the start.
 */
export async function deleteCheckpoints(checkpointDir: string, mergedModel: string, now: Date = new Date()): Promise<DeletedCheckpoints> {
  if (!(await mergedModelPresent(mergedModel)))
    throw new CheckpointRetentionError(
      `the checkpoints under ${checkpointDir} were kept: the merged model ${mergedModel} has no config.json, so they may still be needed`,
    );
  let names: string[];
  try {
    names = await readdir(checkpointDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") names = [];
    else throw err;
  }
  const steps = names.filter((n) => STEP_DIR.test(n));
  let bytes = 0;
  await rm(path.join(checkpointDir, LATEST_CHECKPOINT_FILE), { force: true });
  for (const name of steps) {
    const dir = path.join(checkpointDir, name);
    bytes += await diskBytes(dir);
    await rm(dir, { recursive: true, force: true });
  }
  const deleted: DeletedCheckpoints = {
    dir: checkpointDir,
    steps: steps
      .filter((n) => !n.includes(".tmp."))
      .map((n) => Number(STEP_DIR.exec(n)![1]))
      .sort((a, b) => a - b),
    bytes,
    at: now.toISOString(),
    mergedModel,
  };
  if (steps.length > 0) {
    await writeFile(
      path.join(checkpointDir, DELETED_NOTE_FILE),
      `The saved steps of this folder (${deleted.steps.map((s) => `global_step_${s}`).join(", ") || "none complete"}; ${formatBytes(bytes)}) ` +
        `were deleted on ${deleted.at} once the merged model ${mergedModel} was in place (deleteCheckpointsAfterMerge).\n`,
    );
  }
  return deleted;
}
