/**
 * The code version provenance records: the package version and the git commit the running code was
 * built from. `npm run build` writes the commit into dist/build-info.json (the Docker image has no
 * .git, so it is read from there, or from TOOLLOOP_GIT_COMMIT); a checkout without that file asks git
 * once. Without git or the file the commit is null: provenance never crashes a worker.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { installRoot } from "../training/paths.js";

export interface CodeVersion {
  package: string;
  version: string;
  /** The git commit (40 hex digits), or null where it cannot be known. */
  commit: string | null;
  /** Uncommitted changes in the work tree at build (or first read) time; null when unknown. */
  dirty: boolean | null;
}

export const BUILD_INFO_FILE = "build-info.json";
const COMMIT = /^[0-9a-f]{40}$/;

let cached: CodeVersion | undefined;

/** Read once per process. */
export function codeVersion(): CodeVersion {
  cached ??= readCodeVersion(installRoot(), process.env);
  return cached;
}

export function readCodeVersion(root: string, env: NodeJS.ProcessEnv): CodeVersion {
  const pkg = readJson(path.join(root, "package.json"));
  const name = typeof pkg?.name === "string" ? pkg.name : "toolloop";
  const version = typeof pkg?.version === "string" ? pkg.version : "unknown";
  const fromEnv = env.TOOLLOOP_GIT_COMMIT?.trim().toLowerCase();
  if (fromEnv && COMMIT.test(fromEnv)) return { package: name, version, commit: fromEnv, dirty: null };
  const built = readJson(path.join(root, "dist", BUILD_INFO_FILE));
  if (typeof built?.commit === "string" && COMMIT.test(built.commit))
    return { package: name, version, commit: built.commit, dirty: typeof built.dirty === "boolean" ? built.dirty : null };
  return { package: name, version, ...gitCommit(root) };
}

/**
 * Writes dist/build-info.json (the build step calls it): the commit, whether the tree had uncommitted
 * changes, the commit's own committer date (`committedAt`: unlike the build time, a rebuild of an old
 * commit keeps it, so it tells a rollback from a newer build) and the build time. A tree without git
 * (the Docker build) records TOOLLOOP_GIT_COMMIT and TOOLLOOP_GIT_COMMIT_TIME when they are given,
 * else null.
 */
export function writeBuildInfo(
  root: string = installRoot(),
  env: NodeJS.ProcessEnv = process.env,
): { commit: string | null; dirty: boolean | null; committedAt: string | null } {
  const fromEnv = env.TOOLLOOP_GIT_COMMIT?.trim().toLowerCase();
  const fromGit = gitCommit(root);
  const info =
    fromGit.commit === null && fromEnv && COMMIT.test(fromEnv)
      ? { commit: fromEnv, dirty: null, committedAt: commitTimeFromEnv(env) }
      : { ...fromGit, committedAt: fromGit.commit === null ? null : gitCommitTime(root, fromGit.commit) };
  const file = path.join(root, "dist", BUILD_INFO_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file + ".tmp", JSON.stringify({ ...info, builtAt: new Date().toISOString() }, null, 2) + "\n");
  fs.renameSync(file + ".tmp", file);
  return info;
}

/** TOOLLOOP_GIT_COMMIT_TIME as an ISO time (`git show -s --format=%cI HEAD`), null when unset or not a time. */
function commitTimeFromEnv(env: NodeJS.ProcessEnv): string | null {
  const raw = env.TOOLLOOP_GIT_COMMIT_TIME?.trim();
  const d = raw ? new Date(raw) : null;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : null;
}

/**
 * When `commit` was committed (its committer date, which a rebase or amend moves on, as it makes a new
 * commit), for the build of `root`: dist/build-info.json's when it names that commit, else
 * TOOLLOOP_GIT_COMMIT_TIME when TOOLLOOP_GIT_COMMIT names it, else git; null where none knows.
 */
export function readCommittedAt(root: string, env: NodeJS.ProcessEnv, commit: string | null): Date | null {
  if (commit === null) return null;
  const built = readJson(path.join(root, "dist", BUILD_INFO_FILE));
  const at =
    (built?.commit === commit && typeof built.committedAt === "string" ? built.committedAt : null) ??
    (env.TOOLLOOP_GIT_COMMIT?.trim().toLowerCase() === commit ? commitTimeFromEnv(env) : null) ??
    gitCommitTime(root, commit);
  const d = at === null ? null : new Date(at);
  return d && !Number.isNaN(d.getTime()) ? d : null;
}

function gitCommitTime(root: string, commit: string): string | null {
  try {
    const out = execFileSync("git", ["show", "-s", "--format=%cI", commit], {
      cwd: root,
      encoding: "utf8",
      timeout: 5000,
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    return Number.isNaN(new Date(out).getTime()) ? null : new Date(out).toISOString();
  } catch {
    return null;
  }
}

function gitCommit(root: string): { commit: string | null; dirty: boolean | null } {
  const git = (args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "ignore"] }).trim();
  try {
    const commit = git(["rev-parse", "HEAD"]);
    if (!COMMIT.test(commit)) return { commit: null, dirty: null };
    let dirty: boolean | null = null;
    try {
      dirty = git(["status", "--porcelain", "--untracked-files=no"]) !== "";
    } catch {
      dirty = null;
    }
    return { commit, dirty };
  } catch {
    // No git binary, or not a checkout (the Docker image): the commit is simply unknown.
    return { commit: null, dirty: null };
  }
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
