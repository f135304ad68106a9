/**
 * Bad input to the simulator's command line: one line naming the flag, no stack trace, exit 2 for a
 * value that can never work and 1 for the machine's state (a port in use).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { runNodeMeasured } from "../../helpers/measuredNode.js";
import { squatPort } from "../../helpers/portSquatter.js";

const MAIN = path.resolve(import.meta.dirname, "../../../src/llm/simulator/main.js");

const noStack = (stderr: string) => assert.doesNotMatch(stderr, /\n\s+at /, `no stack trace in ${stderr}`);

test("simulator CLI: --port out of range, an invalid --host and a bad --reasoning exit 2 naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["--port", "99999"], /--port must be an integer from 0 to 65535 \(got "99999"\)/],
    [["--port", "-1"], /--port must be an integer from 0 to 65535 \(got "-1"\)/],
    // Number() read these as 8080, 100 and 5: plain decimal digits only.
    [["--port", "0x1F90"], /--port must be an integer from 0 to 65535 \(got "0x1F90"\)/],
    [["--port", "0", "--seed", "1e2"], /--seed must be an integer >= 0 \(got "1e2"\)/],
    [["--port", "0", "--max-concurrency", " 5"], /--max-concurrency must be an integer >= 1 \(got " 5"\)/],
    [["--host", "999.1.1.1"], /--host: "999\.1\.1\.1" is not a valid IPv4 address/],
    [["--host", "bad host"], /--host: "bad host" is not an IP address or host name/],
    [["--port", "0", "--seed", "-1"], /--seed must be an integer >= 0/],
    [["--port", "0", "--reasoning", "deepseek"], /--reasoning must be one of parser, inline, inlineOpened \(got "deepseek"\)/],
    [["--port", "0", "--reasoning-model", "toolloop-sim"], /--reasoning-model needs --reasoning <style>/],
  ];
  const runs = await Promise.all(cases.map(([args]) => runNodeMeasured(MAIN, args, 20_000)));
  cases.forEach(([args, message], i) => {
    const r = runs[i]!;
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    noStack(r.stderr);
  });
});

test("simulator CLI: a port in use exits 1 naming --port; an address not this machine's exits 2 naming --host", async () => {
  const taken = await squatPort();
  try {
    const r = await runNodeMeasured(MAIN, ["--port", String(taken.port)], 20_000);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^\\[toolloop-simulator\\] --port ${taken.port}: already in use on 127\\.0\\.0\\.1 \\(EADDRINUSE\\)`, "m"));
    noStack(r.stderr);
  } finally {
    await taken.close();
  }
  // TEST-NET-1 (RFC 5737): never assigned to a machine's interface.
  const r = await runNodeMeasured(MAIN, ["--port", "0", "--host", "192.0.2.1"], 20_000);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^\[toolloop-simulator\] --host 192\.0\.2\.1: not an address of this machine \(EADDRNOTAVAIL\)$/m);
  noStack(r.stderr);
});

test("simulator CLI: --checkpoint-profile /dev/zero is refused at once with bounded memory; a folder, a missing file and bad JSON name the flag", async () => {
  const zero = await runNodeMeasured(MAIN, ["--port", "0", "--checkpoint-profile", "/dev/zero"], 20_000);
  assert.equal(zero.status, 2, zero.stderr);
  assert.match(zero.stderr, /^\[toolloop-simulator\] --checkpoint-profile: \/dev\/zero is more than 4 MiB; a checkpoint profile may be at most 4 MiB$/m);
  // The simulator alone takes well under 200 MiB; an unbounded read of /dev/zero passes gigabytes within seconds.
  assert.ok(zero.maxRssMiB < 300, `peak RSS ${zero.maxRssMiB} MiB`);
  assert.doesNotMatch(zero.stdout, /listening/);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sim-cli-"));
  try {
    const bad = path.join(dir, "toolloop_profile.json");
    fs.writeFileSync(bad, '{"simulated": tru}');
    const cases: [string, RegExp][] = [
      [dir, /--checkpoint-profile: .*sim-cli-\w+ is a directory, not a JSON file$/m],
      [path.join(dir, "missing.json"), /--checkpoint-profile: file not found: .*missing\.json \(is this a stand-in checkpoint\?\)$/m],
      [bad, /--checkpoint-profile: .*toolloop_profile\.json: invalid JSON at line 1 column 15/m],
    ];
    const runs = await Promise.all(cases.map(([file]) => runNodeMeasured(MAIN, ["--port", "0", "--checkpoint-profile", file], 20_000)));
    cases.forEach(([file, message], i) => {
      const r = runs[i]!;
      assert.equal(r.status, 2, `${file}: ${r.stderr}`);
      assert.match(r.stderr, message);
      noStack(r.stderr);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
