/**
 * Where a policy server's port comes from. A configured `port` is used as it is. With port 0 the
 * port is picked on the machine the job runs on, just before the server starts there (a port free on
 * the worker's machine says nothing about a cluster node, where another job may hold it): the job
 * writes it to a port file in its folder, which the worker and the nodes share (as they share the
 * checkpoints), and the worker reads the file to reach the server. A job prepared before port files
 * (its request has TOOLLOOP_SERVE_PORT, picked on the worker's machine) keeps that port.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { JobRequest } from "../../../training/launchers/launcher.js";
import { portFromText } from "../../../util/portFile.js";

export const SERVE_PORT_FILE_ENV = "TOOLLOOP_SERVE_PORT_FILE";
/** The port of a job prepared before port files (picked on the worker's machine). */
export const SERVE_PORT_ENV = "TOOLLOOP_SERVE_PORT";
/** The argument trainer/serve/serve_on_node_port.py replaces with the port it picked. */
export const PORT_PLACEHOLDER = "{port}";

/** The port file of an attempt's server, in the stage's job folder (a restart of that server shares it, and keeps the port). */
export function servePortFile(workDir: string, attempt: number): string {
  return path.join(workDir, `policy-server-a${attempt}.port`);
}

/**
 * The port the job's server listens on: the configured one, the one its port file names, or
 * undefined while the job has not written the file yet.
 */
export async function servePortOf(request: Pick<JobRequest, "env">, configuredPort: number): Promise<number | undefined> {
  const file = request.env[SERVE_PORT_FILE_ENV];
  if (file === undefined) {
    const port = Number(request.env[SERVE_PORT_ENV] ?? configuredPort);
    return port > 0 ? port : undefined;
  }
  try {
    return portFromText(await readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
