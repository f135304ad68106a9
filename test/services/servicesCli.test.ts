/**
 * The services CLI (`node dist/src/services/main.js`) on bad input: exit 2 with one line naming the
 * flag, before anything is started, stopped or created, as in the toolloop CLI. No services are needed.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runNodeMeasured } from "../helpers/measuredNode.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/services/main.js");

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-services-cli-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function assertBadInput(args: string[], message: string): Promise<void> {
  const r = await runNodeMeasured(MAIN, args, 20_000);
  assert.equal(r.stderr, `error: ${message}\n`, args.join(" "));
  assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
  assert.equal(r.stdout, "", args.join(" "));
}

test("services up/down/status with a --state-dir that is a file (or under one): exit 2 naming the flag and the file", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "a-file");
  fs.writeFileSync(file, "x");
  const envOut = path.join(dir, "env");
  await assertBadInput(["up", "--state-dir", file, "--env-out", envOut], `--state-dir ${file} is a file, not a directory`);
  await assertBadInput(["down", "--state-dir", file], `--state-dir ${file} is a file, not a directory`);
  await assertBadInput(["status", "--state-dir", file], `--state-dir ${file} is a file, not a directory`);
  const under = path.join(file, "state");
  await assertBadInput(["status", "--state-dir", under], `--state-dir ${under}: ${file} is a file, not a directory`);
  assert.equal(fs.existsSync(envOut), false, "no env file was written");
  assert.equal(fs.readFileSync(file, "utf8"), "x");
});

test("services up: a missing --env-out, or one that names a directory or lies under a file, is exit 2 before anything starts", async (t) => {
  const dir = tempDir(t);
  const stateDir = path.join(dir, "state");
  const file = path.join(dir, "a-file");
  fs.writeFileSync(file, "x");
  await assertBadInput(
    ["up", "--state-dir", stateDir],
    "--env-out <file> is required: the file `up` writes TEMPORAL_ADDRESS, DATABASE_URL and the rest to, for scripts to source (see `up --help`)",
  );
  await assertBadInput(["up", "--state-dir", stateDir, "--env-out", dir], `--env-out ${dir} is a directory; give the path of the file to write`);
  const underFile = path.join(file, "env");
  await assertBadInput(["up", "--state-dir", stateDir, "--env-out", underFile], `--env-out ${underFile}: ${file} is a file, not a directory`);
  assert.equal(fs.existsSync(stateDir), false, "nothing was started in --state-dir");
});

test("services: a missing required option or an unknown command is exit 2 (commander's message); --help says what up needs and writes", async () => {
  for (const args of [["up"], ["down"], ["status"], ["bogus"]]) {
    const r = await runNodeMeasured(MAIN, args, 20_000);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^error: (required option '--state-dir <dir>' not specified|unknown command 'bogus')$/m, args.join(" "));
  }
  const help = await runNodeMeasured(MAIN, ["up", "--help"], 20_000);
  assert.equal(help.status, 0, help.stderr);
  const text = help.stdout.replace(/\s+/g, " ");
  assert.match(text, /--state-dir <dir> where the services keep their state, logs and pids \(required\)/);
  assert.match(
    text,
    /--env-out <file> the env file to write \(required, or its alias --env-file\): KEY=value lines .*TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_UI_URL, and DATABASE_URL/,
  );
  assert.doesNotMatch(text, /file header/, "the help does not send the reader to the source file");
});
