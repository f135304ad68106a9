/**
 * Locates the Temporal CLI (which embeds the dev server). Search order: TEMPORAL_CLI_PATH, `temporal`
 * on PATH, `$(go env GOPATH)/bin/temporal`; otherwise builds it from the Go module proxy. v1.5.1 is
 * pinned because later tags cannot be `go install`ed.
 */
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const TEMPORAL_CLI_MODULE = "github.com/temporalio/cli/cmd/temporal@v1.5.1";

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Where `go install` puts binaries: GOBIN when set, else the first GOPATH entry's bin. */
async function goBinDirs(): Promise<string[] | undefined> {
  const go = findOnPath("go");
  if (!go) return undefined;
  const { stdout } = await execFileAsync(go, ["env", "GOBIN", "GOPATH"]);
  const [gobin = "", gopath = ""] = stdout.split("\n").map((l) => l.trim());
  const dirs: string[] = [];
  if (gobin) dirs.push(gobin);
  const firstGopath = gopath.split(path.delimiter)[0];
  if (firstGopath) dirs.push(path.join(firstGopath, "bin"));
  return dirs;
}

export async function findTemporalCli(opts: { log?: (m: string) => void; build?: boolean } = {}): Promise<string> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutableFile(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH: "${fromEnv}" is not an executable file`);
    return fromEnv;
  }
  const onPath = findOnPath("temporal");
  if (onPath) return onPath;

  const binDirs = await goBinDirs();
  for (const dir of binDirs ?? []) {
    const candidate = path.join(dir, "temporal");
    if (isExecutableFile(candidate)) return candidate;
  }
  if (!binDirs) {
    throw new Error(
      "Temporal CLI not found (checked TEMPORAL_CLI_PATH, PATH, $(go env GOPATH)/bin) and Go is not installed to build it. " +
        `Install Go and run \`go install ${TEMPORAL_CLI_MODULE}\`, install the CLI from https://temporal.io/setup, ` +
        "or set TEMPORAL_CLI_PATH. On a machine with internet access the Temporal SDK's own dev-server download " +
        "(TestWorkflowEnvironment.createLocal() from @temporalio/testing) is an acceptable fallback.",
    );
  }
  if (opts.build === false) throw new Error(`Temporal CLI not found; build it with \`go install ${TEMPORAL_CLI_MODULE}\``);

  log(`building the Temporal CLI: go install ${TEMPORAL_CLI_MODULE} (takes a few minutes the first time)`);
  try {
    await execFileAsync("go", ["install", TEMPORAL_CLI_MODULE], { maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`go install ${TEMPORAL_CLI_MODULE} failed: ${stderr.trim().split("\n").slice(-10).join("\n") || String(err)}`);
  }
  for (const dir of binDirs) {
    const candidate = path.join(dir, "temporal");
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new Error(`go install ${TEMPORAL_CLI_MODULE} succeeded but no temporal binary appeared in ${binDirs.join(" or ")}`);
}
