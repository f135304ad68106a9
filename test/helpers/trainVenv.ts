/** The project's training venv (.venv-train, scripts/ensure-train-venv.sh): verl's configs, Hydra, pyarrow and Jinja2 for tests. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

export const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..", "..");

/** The venv's python; TOOLLOOP_TRAIN_PYTHON overrides it. Fails with what to run when the venv is missing. */
export function trainVenvPython(): string {
  const py = process.env.TOOLLOOP_TRAIN_PYTHON ?? path.join(REPO_ROOT, ".venv-train", "bin", "python");
  if (!existsSync(py))
    throw new Error(
      `no training venv python at ${py}: run \`bash scripts/ensure-train-venv.sh\` (it installs verl 0.9.1 --no-deps, Hydra, pyarrow and Jinja2)`,
    );
  return py;
}

/** Runs a python script (stdin or a file) with the venv's python; returns stdout, throws with stderr on a non-zero exit. */
export function runTrainPython(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(trainVenvPython(), args, { encoding: "utf8", input, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
