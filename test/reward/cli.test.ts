import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runNodeMeasured } from "../helpers/measuredNode.js";
import { squatPort } from "../helpers/portSquatter.js";

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

test("toolloop reward serve --config: /dev/zero is refused at once with bounded memory; a missing file, a folder and bad JSON name --config and the path", async () => {
  const zero = await runNodeMeasured(cli, ["reward", "serve", "--port", "0", "--config", "/dev/zero"], 20_000);
  assert.equal(zero.status, 2, zero.stderr);
  assert.match(zero.stderr, /^error: --config: \/dev\/zero is more than 1 MiB; a reward config file may be at most 1 MiB$/m);
  // The CLI alone takes ~150 MiB; an unbounded read of /dev/zero passes gigabytes within seconds.
  assert.ok(zero.maxRssMiB < 400, `peak RSS ${zero.maxRssMiB} MiB`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-reward-cli-"));
  try {
    const bad = path.join(dir, "bad.json");
    fs.writeFileSync(bad, '{"kind":');
    const campaign = path.join(dir, "campaign.json");
    fs.writeFileSync(campaign, JSON.stringify({ name: "c", iterations: 1, stages: [] }));
    const list = path.join(dir, "list.json");
    fs.writeFileSync(list, JSON.stringify([{ kind: "binary" }, { weights: { fromat: 1 } }]));
    const cases: [string, RegExp][] = [
      [path.join(dir, "missing.json"), /^error: --config: file not found: .*missing\.json$/m],
      [dir, /^error: --config: .*toolloop-reward-cli-\w+ is a directory, not a JSON file$/m],
      [bad, /^error: --config: .*bad\.json: invalid JSON at line 1 column 9: Unexpected end of JSON input$/m],
      [
        campaign,
        /^error: --config .*campaign\.json: \(config\): unknown fields "name", "iterations", "stages"; this must be a reward config \(fields: kind, weights, template, partialCredit, matchMode, reasoning\); this looks like a campaign config/m,
      ],
      [list, /^error: --config .*list\.json: \[1\]\.weights: unknown field "fromat"$/m],
    ];
    const runs = await Promise.all(cases.map(([file]) => runNodeMeasured(cli, ["reward", "serve", "--port", "0", "--config", file], 30_000)));
    cases.forEach(([file, message], i) => {
      const r = runs[i]!;
      assert.equal(r.status, 2, `${file}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("toolloop reward serve --host/--port: an invalid host or one not this machine's is bad input (exit 2), a port in use is the environment (exit 1)", async () => {
  for (const [host, why] of [
    ["999.1.1.1", "is not a valid IPv4 address"],
    ["::zz", "is not a valid IPv6 address"],
    ["bad host", "is not an IP address or host name"],
  ]) {
    const r = await runNodeMeasured(cli, ["reward", "serve", "--port", "0", "--host", host!], 20_000);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: --host: "${host!.replace(/\./g, "\\.")}" ${why}`, "m"));
  }
  // TEST-NET-1 (RFC 5737): never an address of this machine; the flag is what to change, as `report serve` says (exit 2).
  const elsewhere = await runNodeMeasured(cli, ["reward", "serve", "--port", "0", "--host", "192.0.2.1"], 20_000);
  assert.equal(elsewhere.status, 2, elsewhere.stderr);
  assert.match(elsewhere.stderr, /^error: --host 192\.0\.2\.1: not an address of this machine \(EADDRNOTAVAIL\)$/m);
  const taken = await squatPort();
  try {
    const r = await runNodeMeasured(cli, ["reward", "serve", "--port", String(taken.port)], 20_000);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: --port ${taken.port}: already in use on 127\\.0\\.0\\.1 \\(EADDRINUSE\\)`, "m"));
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  } finally {
    await taken.close();
  }
});
