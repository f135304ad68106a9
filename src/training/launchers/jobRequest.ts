/** Checks every launcher applies before it touches a scheduler or the disk, and the log tail they share. */
import fs from "node:fs";
import path from "node:path";
import { envNameProblem, envValueProblem } from "../../config/envVar.js";
import { SLURM_MEMORY } from "./config.js";
import { JOB_NAME, type JobRequest } from "./launcher.js";

/** The name is also a file name and a scheduler's job name: refuse anything else before it becomes a path. */
export function assertJobName(name: string): void {
  if (typeof name !== "string" || !JOB_NAME.test(name)) {
    throw new Error(
      `invalid job name ${JSON.stringify(name)}: expected lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters`,
    );
  }
}

export function assertJobRequest(request: JobRequest): void {
  assertJobName(request.name);
  if (!Array.isArray(request.command) || request.command.length === 0 || request.command.some((a) => typeof a !== "string" || a.includes("\0"))) {
    throw new Error(`job ${request.name}: command must be a non-empty list of strings without NUL characters`);
  }
  if (typeof request.workDir !== "string" || !path.isAbsolute(request.workDir)) {
    throw new Error(`job ${request.name}: workDir must be an absolute path, got ${JSON.stringify(request.workDir)}`);
  }
  // The rule config validation applies to a stage's `env` too (src/config/envVar.ts).
  for (const [key, value] of Object.entries(request.env ?? {})) {
    const nameProblem = envNameProblem(key);
    if (nameProblem !== undefined) throw new Error(`job ${request.name}: env name ${nameProblem}`);
    const valueProblem = envValueProblem(value);
    if (valueProblem !== undefined) throw new Error(`job ${request.name}: env ${key} ${valueProblem}`);
  }
  const r = request.resources;
  if (!r || !Number.isInteger(r.nodes) || r.nodes < 1) throw new Error(`job ${request.name}: resources.nodes must be a positive integer`);
  if (!Number.isInteger(r.gpusPerNode) || r.gpusPerNode < 0) throw new Error(`job ${request.name}: resources.gpusPerNode must be a non-negative integer`);
  for (const key of ["cpusPerTask", "timeLimitMinutes"] as const) {
    const v = r[key];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0)) throw new Error(`job ${request.name}: resources.${key} must be a positive number`);
  }
  // It becomes an #SBATCH line: nothing but sbatch's own --mem syntax.
  if (r.memPerNode !== undefined && (typeof r.memPerNode !== "string" || !SLURM_MEMORY.test(r.memPerNode)))
    throw new Error(`job ${request.name}: resources.memPerNode ${JSON.stringify(r.memPerNode)} is not sbatch's --mem value (e.g. "64G")`);
}

/** The last `tailBytes` bytes of a file as UTF-8 ("" when it does not exist), without reading all of it. */
export async function tailBytes(file: string, tailBytesCount: number): Promise<string> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, Math.max(0, Math.floor(tailBytesCount)));
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    // A cut through a multi-byte character decodes as U+FFFD; drop it rather than show garbage.
    return buf.toString("utf8").replace(/^\uFFFD+/, "");
  } finally {
    await handle.close();
  }
}

export const DEFAULT_TAIL_BYTES = 64 * 1024;
