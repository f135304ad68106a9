/**
 * What a DATABASE_URL names, checked before anything is opened: the CLI reports these as bad input
 * (exit 2) naming the variable, every command alike.
 */
import fs from "node:fs";
import path from "node:path";

/** DATABASE_URL names no database this process can open (the message names the variable). */
export class DatabaseUrlError extends Error {
  override readonly name = "DatabaseUrlError";
}

export type DatabaseTarget = { driver: "pg"; url: string } | { driver: "pglite"; dir: string } | { driver: "pglite"; memory: true };

/**
 * `postgres://` or `postgresql://` URLs, `pglite:<dir>`, and `pglite:memory` (spelled out: an empty
 * `pglite:`, e.g. `pglite:$UNSET_DIR`, would otherwise be a database that vanishes at exit).
 */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url.startsWith("pglite:")) {
    const where = url.slice("pglite:".length);
    if (where === "memory") return { driver: "pglite", memory: true };
    if (where.trim() === "") throw new DatabaseUrlError(`DATABASE_URL: pglite: needs a folder (pglite:<dir>), or pglite:memory for a database lost at exit`);
    return { driver: "pglite", dir: where };
  }
  if (!/^postgres(ql)?:\/\//.test(url)) throw new DatabaseUrlError(`DATABASE_URL: expected postgres://... or pglite:<dir>, got ${JSON.stringify(url)}`);
  return { driver: "pg", url };
}

/**
 * Why PGlite cannot use `dir`, or undefined when it may try: PGlite reports a file in the way as a
 * bare `ExitStatus` object and a missing parent as its own mkdir's ENOENT, neither naming DATABASE_URL.
 * PGlite creates the folder itself (not its parents).
 */
export function pgliteDirProblem(dir: string): string | undefined {
  try {
    const stat = fs.statSync(dir, { throwIfNoEntry: false });
    if (stat) return stat.isDirectory() ? undefined : `pglite:${dir} is not a directory`;
    const parent = path.dirname(path.resolve(dir));
    const parentStat = fs.statSync(parent, { throwIfNoEntry: false });
    if (!parentStat) return `pglite:${dir}: its parent folder ${parent} does not exist`;
    return parentStat.isDirectory() ? undefined : `pglite:${dir}: ${parent} is not a directory`;
  } catch (err) {
    // ENOTDIR (a file on the way), EACCES, ELOOP, ...
    return `pglite:${dir}: ${(err as Error).message}`;
  }
}

/** parseDatabaseUrl, and for a PGlite folder pgliteDirProblem: everything checkable without opening it. */
export function checkDatabaseUrl(url: string): DatabaseTarget {
  const target = parseDatabaseUrl(url);
  const problem = "dir" in target ? pgliteDirProblem(target.dir) : undefined;
  if (problem !== undefined) throw new DatabaseUrlError(`DATABASE_URL: ${problem}`);
  return target;
}
