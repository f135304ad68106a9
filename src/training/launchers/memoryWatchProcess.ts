/**
 * Entry point of a local job's memory watch (memoryWatch.ts), spawned detached by LocalLauncher with its
 * arguments as one JSON argument. Removes <name>.watch when it ends, if that still names it.
 */
import fs from "node:fs";
import path from "node:path";
import { runMemoryWatch, type MemoryWatchArgs } from "./memoryWatch.js";
import { parseProcessIdentity } from "./processIdentity.js";

const args = JSON.parse(process.argv[2] ?? "{}") as MemoryWatchArgs;
try {
  await runMemoryWatch(args);
} finally {
  const watchFile = path.join(args.stateDir, `${args.name}.watch`);
  try {
    if (parseProcessIdentity(fs.readFileSync(watchFile, "utf8"))?.pid === process.pid) fs.rmSync(watchFile, { force: true });
  } catch {
    // never written, or removed already
  }
}
