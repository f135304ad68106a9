/**
 * A folder a flag names (`--state-dir`), checked before anything is started in it: mkdir and lstat
 * report a file in the way as a bare EEXIST or ENOTDIR naming neither the flag nor which path is wrong.
 */
import fs from "node:fs";
import path from "node:path";

/**
 * What keeps `dir` from being used or created as a folder: it, or the nearest existing path above it,
 * is not a directory (`what` says what it is instead). Undefined when nothing does.
 */
export function notAFolder(dir: string): { path: string; what: string } | undefined {
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(p, { throwIfNoEntry: false });
    } catch (err) {
      // ENOTDIR: a file further up is in the way; the loop reaches it.
      if ((err as NodeJS.ErrnoException).code === "ENOTDIR") continue;
      return { path: p, what: `cannot be checked (${(err as Error).message})` };
    }
    if (stat?.isDirectory()) return undefined;
    if (stat) return { path: p, what: stat.isFile() ? "is a file, not a directory" : "is not a directory" };
    if (path.dirname(p) === p) return undefined;
  }
}

/** Why the folder `dir` given as `flag` cannot be used, as one line naming the flag; undefined when it can. */
export function folderFlagProblem(flag: string, dir: string): string | undefined {
  const found = notAFolder(dir);
  if (!found) return undefined;
  return found.path === path.resolve(dir) ? `${flag} ${dir} ${found.what}` : `${flag} ${dir}: ${found.path} ${found.what}`;
}
