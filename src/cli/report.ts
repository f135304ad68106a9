/**
 * `toolloop report build|serve`: a campaign's HTML reports (src/reports/) on demand. Reads
 * PostgreSQL (and the training jobs' logs on disk) only: no worker or Temporal needed.
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Command } from "commander";
import type { Db, DbHandle } from "../db/client.js";
import { openCliDatabase } from "./database.js";
import { campaignReportPath, iterationReportPath } from "../output/layout.js";
import { buildReportHtml, campaignReportDir, checkReportScope, knownCampaignReportDir } from "../reports/build.js";
import { writeFileAtomic } from "../util/atomicFiles.js";
import { UnknownCampaignError } from "../reports/data.js";
import { startReportServer } from "../reports/server.js";
import { cliEnv, defaultBaseDir, statedBaseDir } from "./env.js";
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from "./errors.js";
import { plainInteger } from "./options.js";

async function withDatabase<T>(fn: (db: DbHandle) => Promise<T>): Promise<T> {
  const url = cliEnv().databaseUrl;
  if (!url) throw new CliError("reports read PostgreSQL: set DATABASE_URL", EXIT_ENVIRONMENT);
  const db = await openCliDatabase(url);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function parseIteration(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = plainInteger(v);
  if (n === undefined || n < 1) throw new CliError(`--iteration: expected a positive whole number, got ${JSON.stringify(v)}`, EXIT_BAD_INPUT);
  return n;
}

function parsePort(v: string): number {
  const n = plainInteger(v);
  if (n === undefined || n > 65535) throw new CliError(`--port: expected a port number 0-65535, got ${JSON.stringify(v)}`, EXIT_BAD_INPUT);
  return n;
}

/** Writes the report; a place it cannot be written names the file (and --out when it came from there) instead of a bare errno. */
export async function writeReportFile(file: string, html: string, fromOut: boolean): Promise<void> {
  try {
    await writeFileAtomic(file, html);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === "EISDIR"
        ? "it is a directory (name a file, e.g. report.html inside it)"
        : e.code === "EACCES" || e.code === "EPERM" || e.code === "EROFS"
          ? "permission denied"
          : e.code === "ENOENT" || e.code === "ENOTDIR" || e.code === "EEXIST"
            ? "its folder cannot be created there"
            : e.message;
    throw new CliError(`${fromOut ? "--out: " : ""}cannot write the report to ${file}: ${why}`, fromOut ? EXIT_BAD_INPUT : EXIT_ENVIRONMENT);
  }
}

/** A port (or address) `report serve` cannot listen on, said as such. */
export function listenFailure(port: number, err: unknown, host = "127.0.0.1"): CliError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE")
    return new CliError(
      `--port ${port}: ${host}:${port} is already in use (another report serve?); pick another port, or --port 0 for any free one`,
      EXIT_BAD_INPUT,
    );
  if (code === "EACCES")
    return new CliError(`--port ${port}: not allowed to listen on it (ports below 1024 need privileges); pick another port`, EXIT_BAD_INPUT);
  if (code === "EADDRNOTAVAIL")
    return new CliError(`--host ${host}: no network interface of this machine has that address; use 127.0.0.1, or 0.0.0.0 for every interface`, EXIT_BAD_INPUT);
  return undefined;
}

/** `--host`: an IP address to listen on (a container publishing the port needs 0.0.0.0). */
export function parseHost(v: string): string {
  if (net.isIP(v) === 0) throw new CliError(`--host: expected an IP address to listen on (127.0.0.1, 0.0.0.0, ::), got ${JSON.stringify(v)}`, EXIT_BAD_INPUT);
  return v;
}

/**
 * `--out` resolved; its folder must exist: a typo in it would otherwise create a tree of folders
 * wherever the typo points (`/nonexistent-dir/` at the filesystem root).
 */
export function outFile(out: string): string {
  const file = path.resolve(out);
  const dir = path.dirname(file);
  try {
    fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new CliError(`--out: the folder ${dir} does not exist; create it first or name a file in an existing folder`, EXIT_BAD_INPUT);
    // Anything else (a file where a folder should be, no permission) the write names.
  }
  return file;
}

/**
 * Where `report build` writes without --out, and how that place is known: the layout's path under
 * --base-dir when given, else in the campaign's own output folder (src/reports/build.ts
 * knownCampaignReportDir). Refused (exit 2) when only the worker's --base-dir could say where that
 * is: a guess (the current folder) wrote a stray copy whose links to the iteration reports were broken.
 */
export async function reportTarget(
  db: Db,
  campaignId: string,
  opts: { iteration?: number; baseDir?: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<{ file: string; how: string }> {
  const fileIn = (dir: string) => (opts.iteration === undefined ? campaignReportPath(dir) : iterationReportPath(dir, opts.iteration));
  const scope = opts.iteration !== undefined ? { iteration: opts.iteration } : {};
  if (opts.baseDir !== undefined)
    return {
      file: fileIn(await campaignReportDir(db, opts.baseDir, campaignId, opts.iteration)),
      how: `output.dir resolved against --base-dir ${opts.baseDir}`,
    };
  const envBaseDir = statedBaseDir(opts.env, opts.cwd);
  const known = await knownCampaignReportDir(db, campaignId, { ...scope, ...(envBaseDir !== undefined ? { envBaseDir } : {}) });
  if ("dir" in known) return { file: fileIn(known.dir), how: known.how };
  throw new CliError(
    `report build: campaign ${campaignId} has recorded no report yet, and its output.dir ${JSON.stringify(known.relativeSetting)} is relative to the worker's --base-dir, which PostgreSQL does not hold: pass --base-dir DIR (the worker's) or --out FILE`,
    EXIT_BAD_INPUT,
  );
}

const isLoopback = (host: string) => host === "::1" || host.startsWith("127.");

const asCliError = (err: unknown): never => {
  if (err instanceof UnknownCampaignError) throw new CliError(err.message, EXIT_BAD_INPUT);
  throw err;
};

export function registerReportCommands(program: Command): void {
  const report = program.command("report").description("a campaign's HTML reports with charts (needs DATABASE_URL)");
  report
    .command("build")
    .argument("<campaignId>")
    .option("--iteration <n>", "the report of one iteration (default: the campaign report)")
    .option("--out <file>", "write here instead of the campaign's output folder")
    .option(
      "--base-dir <dir>",
      "the worker's --base-dir, to resolve the campaign's output.dir against (default: the folder the worker recorded writing the campaign's reports in, else $TOOLLOOP_BASE_DIR)",
    )
    .description("build the campaign's (or one iteration's) report and write it as one self-contained HTML file")
    .action(async (campaignId: string, opts: { iteration?: string; out?: string; baseDir?: string }) => {
      const iteration = parseIteration(opts.iteration);
      const out = opts.out !== undefined ? outFile(opts.out) : undefined;
      await withDatabase(async ({ db }) => {
        // An unknown campaign or iteration is said alone, not after a "building" line.
        await checkReportScope(db, { campaignId, ...(iteration !== undefined ? { iteration } : {}) }).catch(asCliError);
        const target = out
          ? { file: out, how: "--out" }
          : await reportTarget(db, campaignId, { iteration, ...(opts.baseDir !== undefined ? { baseDir: path.resolve(opts.baseDir) } : {}) }).catch(asCliError);
        const what = iteration === undefined ? "campaign report" : `iteration ${iteration} report`;
        console.error(`[report] building the ${what} of ${campaignId} ...`);
        const html = await buildReportHtml(db, { campaignId, ...(iteration !== undefined ? { iteration } : {}) }).catch(asCliError);
        await writeReportFile(target.file, html, out !== undefined);
        console.error(`[report] wrote the ${what} to ${target.file} (${target.how})`);
        console.log(target.file);
      });
    });
  report
    .command("serve")
    .argument("<campaignId>")
    .option("--port <port>", "port to listen on (0: any free port)", "8088")
    .option("--host <address>", "address to listen on (0.0.0.0: every interface, e.g. inside a container whose port is published)", "127.0.0.1")
    .description("serve the campaign's reports (127.0.0.1 unless --host says otherwise), built fresh on every request, until Ctrl-C")
    .action(async (campaignId: string, opts: { port: string; host: string }) => {
      const port = parsePort(opts.port);
      const host = parseHost(opts.host);
      await withDatabase(async ({ db }) => {
        // Fail now, not on the first request, when the campaign is unknown.
        await campaignReportDir(db, defaultBaseDir(), campaignId).catch(asCliError);
        const server = await startReportServer(db, campaignId, { port, host, log: (m) => console.error(`[report] ${m}`) }).catch((err: unknown) => {
          throw listenFailure(port, err, host) ?? err;
        });
        if (!isLoopback(host))
          console.error(`[report] listening on ${host}: the reports have no access control; anyone who can reach this address and port can read them`);
        console.log(`[report] serving ${campaignId}'s reports at ${server.url} (iterations at .../iter-N/report.html); Ctrl-C to stop`);
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
        await server.close();
        console.error("[report] stopped");
      });
    });
}
