#!/usr/bin/env node
/**
 * Starts and stops the local services for tests and scripts:
 *   node dist/src/services/main.js up --state-dir D --env-out F [--no-postgres]
 *   node dist/src/services/main.js down --state-dir D
 *   node dist/src/services/main.js status --state-dir D
 *
 * Bad input (a missing option, a --state-dir that is a file) exits 2, anything else 1.
 *
 * `--env-file` is accepted as an alias of `--env-out`, but Node 20 scans the whole command line for
 * its own --env-file flag (even after the script name): it exits with "not found" when the file
 * does not exist yet, and preloads an existing one into process.env. Prefer --env-out on Node 20.
 */
import fs from "node:fs";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from "../cli/errors.js";
import { folderFlagProblem, notAFolder } from "../util/folderFlag.js";
import { formatEnvFile, stackDown, stackStatus, stackUp } from "./stack.js";

/**
 * Node 20 may already have loaded the old env file (see the header) into process.env; values equal
 * to the file's came from it, not from the user, and must not make `up` reuse a stale DATABASE_URL.
 */
function forgetPreloadedEnvFile(file: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return;
  }
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z_]\w*)=(.*)$/.exec(line);
    if (!match) continue;
    const [, key = "", raw = ""] = match;
    const unquoted = raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'") ? raw.slice(1, -1) : raw;
    if (process.env[key] === raw || process.env[key] === unquoted) delete process.env[key];
  }
}

/** `--state-dir` checked before anything is started, stopped or read in it (a file there gives bare EEXIST or ENOTDIR errors). */
function checkStateDir(dir: string): void {
  const problem = folderFlagProblem("--state-dir", dir);
  if (problem) throw new CliError(problem);
}

/** The env file `up` writes last, checked first: a folder in its way would fail `up` after both services started. */
function checkEnvFile(flag: string, file: string): void {
  const inTheWay = notAFolder(path.dirname(path.resolve(file)));
  if (inTheWay) throw new CliError(`${flag} ${file}: ${inTheWay.path} ${inTheWay.what}`);
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new CliError(`${flag} ${file} is a directory; give the path of the file to write`);
}

const ENV_FILE_CONTENTS =
  "KEY=value lines for `set -a; . FILE; set +a` or a dotenv loader: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_UI_URL, and DATABASE_URL unless there is no database (--no-postgres without one in the environment); the same lines go to stdout";

const program = new Command();
program
  .name("services")
  .description("local Temporal dev server and PostgreSQL for toolloop")
  .showHelpAfterError()
  // Throw instead of exiting, so usage errors get the bad-input exit code like in the toolloop CLI.
  .exitOverride();

program
  .command("up")
  .description("start the Temporal dev server and PostgreSQL (detached), apply migrations, write the env file")
  .requiredOption("--state-dir <dir>", "where the services keep their state, logs and pids (required)")
  .option("--env-out <file>", `the env file to write (required, or its alias --env-file): ${ENV_FILE_CONTENTS}`)
  .option(
    "--env-file <file>",
    "alias of --env-out; Node 20 takes --env-file anywhere on the line as its own flag (it stops when the file does not exist yet and loads one that does), so prefer --env-out",
  )
  .option("--no-postgres", "do not start PostgreSQL (DATABASE_URL from the environment is still used)")
  .action(async (o: { stateDir: string; envOut?: string; envFile?: string; postgres: boolean }) => {
    const envFile = o.envOut ?? o.envFile;
    if (!envFile)
      throw new CliError(
        "--env-out <file> is required: the file `up` writes TEMPORAL_ADDRESS, DATABASE_URL and the rest to, for scripts to source (see `up --help`)",
      );
    checkStateDir(o.stateDir);
    checkEnvFile(o.envOut !== undefined ? "--env-out" : "--env-file", envFile);
    if (o.envOut === undefined) forgetPreloadedEnvFile(envFile);
    const env = await stackUp({ stateDir: o.stateDir, envFile, postgres: o.postgres, log: (m) => console.error(m) });
    process.stdout.write(formatEnvFile(env));
  });

program
  .command("down")
  .description("stop what `up` started (fine when nothing runs)")
  .requiredOption("--state-dir <dir>", "the state dir given to `up` (required)")
  .action(async (o: { stateDir: string }) => {
    checkStateDir(o.stateDir);
    const stopped = await stackDown({ stateDir: o.stateDir });
    console.log(stopped.length > 0 ? `stopped: ${stopped.join(", ")}` : "nothing was running");
  });

program
  .command("status")
  .description("show whether the services of a state dir are running")
  .requiredOption("--state-dir <dir>", "the state dir given to `up` (required)")
  .action((o: { stateDir: string }) => {
    checkStateDir(o.stateDir);
    if (!fs.existsSync(o.stateDir)) {
      console.log(`no state in ${o.stateDir}`);
      return;
    }
    const s = stackStatus({ stateDir: o.stateDir });
    const t = s.temporal;
    console.log(`temporal: ${t.running ? `running (pid ${t.pid}) at ${t.address}, UI ${t.uiUrl}` : "not running"}`);
    const p = s.postgres;
    if (p === "external") console.log("postgres: external (DATABASE_URL from the environment)");
    else if (p === "none") console.log("postgres: not started by this stack");
    else console.log(`postgres: ${p.running ? `running (pid ${p.pid}) on port ${p.port}${p.url ? `, ${p.url}` : ""}` : "not running"}`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Commander has printed its message (or the help) already.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    return;
  }
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = err instanceof CliError ? err.exitCode : EXIT_ENVIRONMENT;
});
