/**
 * The kill -9 half of the launcher tests: runs test/helpers/submitThenHang.js as a stand-in worker
 * and SIGKILLs it the moment it prints that submit returned, so nothing about the job was recorded.
 * Returns what submit said: the job's external id and whether this call submitted it.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import type { JobRequest } from "../../src/training/launchers/launcher.js";

export async function submitThenKill(launcherConfig: unknown, req: JobRequest): Promise<{ externalId: string; submitted: boolean }> {
  const helper = path.join(import.meta.dirname, "submitThenHang.js");
  const child = spawn(process.execPath, [helper, JSON.stringify(launcherConfig), JSON.stringify(req)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise((r) => child.once("exit", r));
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) {
        child.kill("SIGKILL"); // the moment the line appears: the "worker" recorded nothing
        resolve(out.split("\n")[0]!);
      }
    });
    child.once("exit", (code) => reject(new Error(`submitThenHang exited (${code}) before printing: ${stderr}`)));
  });
  await exited;
  if (child.signalCode !== "SIGKILL") throw new Error(`submitThenHang ended by ${child.signalCode ?? `exit ${child.exitCode}`}, not SIGKILL`);
  const [word, externalId, submitted] = line.split(" ");
  if (word !== "submitted" || !externalId) throw new Error(`submitThenHang printed ${JSON.stringify(line)}, not "submitted <id> <bool>"`);
  return { externalId, submitted: submitted === "true" };
}
