import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");

test("toolloop reward serve: prints its URL, registers --config files, serves until SIGTERM", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-reward-cli-"));
  const file = path.join(dir, "reward.json");
  fs.writeFileSync(file, JSON.stringify([{ kind: "binary" }, { partialCredit: "perCall" }]));
  const child = spawn(process.execPath, [cli, "reward", "serve", "--port", "0", "--config", file], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const line = out.split("\n").find((l) => l.startsWith("http://"));
        if (line) resolve(line.trim());
      });
      child.once("exit", (code) => reject(new Error(`exited ${code} before printing its URL`)));
    });
    assert.deepEqual(await (await fetch(`${url}/health`)).json(), { status: "ok", configs: 2 });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("toolloop reward serve: a bad config file is refused naming the field", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-reward-cli-"));
  const file = path.join(dir, "reward.json");
  fs.writeFileSync(file, JSON.stringify({ partialCredit: "some" }));
  const child = spawn(process.execPath, [cli, "reward", "serve", "--port", "0", "--config", file], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 2);
  assert.match(err, /partialCredit: expected "none", "perCall" or "perArgument"/);
});
