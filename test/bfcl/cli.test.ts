import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runBfclCheck, formatAccuracy, MISSING_OUTPUT } from "../../src/cli/bfcl.js";
import { CliError } from "../../src/cli/campaign.js";
import { REPO_ROOT } from "./officialChecker.js";

const fixture = path.join(REPO_ROOT, "test", "fixtures", "bfcl", "simple_outputs.jsonl");
const tmp = mkdtempSync(path.join(tmpdir(), "toolloop-bfcl-cli-"));
function outputsFile(name: string, text: string): string {
  const f = path.join(tmp, name);
  writeFileSync(f, text);
  return f;
}

test("check: one verdict per id, missing ids count as wrong, ACCURACY line", async () => {
  const r = await runBfclCheck({ category: "simple", outputs: fixture });
  assert.equal(r.total, 400);
  assert.equal(r.missing, 396);
  const byId = new Map(r.lines.map((l) => [l.id, l]));
  assert.deepEqual(byId.get("simple_0"), { id: "simple_0", valid: true, errorType: null });
  assert.equal(byId.get("simple_1")!.errorType, "simple_function_checker:wrong_func_name");
  assert.equal(byId.get("simple_2")!.valid, true);
  assert.equal(byId.get("simple_3")!.errorType, "type_error:simple", "2.0 for an integer param is a type error");
  assert.equal(byId.get("simple_9")!.errorType, MISSING_OUTPUT);
  assert.equal(formatAccuracy(r), "ACCURACY 0.0050 (2/400)");
});

async function rejects(opts: Parameters<typeof runBfclCheck>[0], pattern: RegExp): Promise<void> {
  await assert.rejects(runBfclCheck(opts), (err: unknown) => {
    assert.ok(err instanceof CliError, `expected CliError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  });
}

test("check: bad inputs are clear errors naming the problem", async () => {
  await rejects({ category: "nope", outputs: fixture }, /unknown --category "nope"; valid categories: simple, multiple/);
  await rejects({ category: "simple", outputs: fixture, data: path.join(tmp, "no-such-dir") }, /BFCL data directory not found: .*no-such-dir/);
  await rejects({ category: "simple", outputs: path.join(tmp, "absent.jsonl") }, /cannot read --outputs .*absent\.jsonl: file not found/);
  const malformed = outputsFile("bad.jsonl", '{"id": "simple_0", "result": []}\n{"id": "simple_1", "result": [}\n');
  await rejects({ category: "simple", outputs: malformed }, /bad\.jsonl line 2: malformed JSON/);
  await rejects(
    { category: "simple", outputs: outputsFile("unk.jsonl", '{"id": "simple_999", "result": []}\n') },
    /line 1: unknown id "simple_999" for category simple/,
  );
  await rejects(
    { category: "simple", outputs: outputsFile("dup.jsonl", '{"id": "simple_0", "result": []}\n\n{"id": "simple_0", "result": []}\n') },
    /line 3: duplicate id "simple_0" \(first on line 1\)/,
  );
  await rejects({ category: "simple", outputs: outputsFile("nores.jsonl", '{"id": "simple_0"}\n') }, /line 1: missing "result"/);
  await rejects({ category: "simple", outputs: fixture, mode: "fuzzy" }, /--mode must be "bfcl" or "strict"/);
});

test("toolloop bfcl check (process): prints JSON lines then ACCURACY; bad input exits 2", () => {
  const main = path.join(REPO_ROOT, "dist", "src", "cli", "main.js");
  const ok = spawnSync(process.execPath, [main, "bfcl", "check", "--category", "simple", "--outputs", fixture, "--mode", "strict"], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  const lines = ok.stdout.trim().split("\n");
  assert.equal(lines.length, 401);
  assert.deepEqual(JSON.parse(lines[0]!), { id: "simple_0", valid: true, errorType: null });
  assert.equal(lines.at(-1), "ACCURACY 0.0050 (2/400)");
  assert.match(ok.stderr, /396 id\(s\) had no output line and count as wrong/);
  const bad = spawnSync(process.execPath, [main, "bfcl", "check", "--category", "multi_turn_base", "--outputs", fixture], { encoding: "utf8" });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown --category "multi_turn_base"/);
});
