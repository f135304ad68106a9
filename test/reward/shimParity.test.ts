/**
 * The Python shim, run by the system python3 (standard library only) against the live reward
 * service, returns exactly what the TypeScript reward computes: single, batch and async forms.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rewardConfigSchema } from "../../src/reward/config.js";
import { rewardConfigId } from "../../src/reward/configId.js";
import { scoreResponse } from "../../src/reward/score.js";
import { startRewardService } from "../../src/reward/service.js";
import { REWARD_URL_FILE, writeRewardShim } from "../../src/reward/shim.js";
import { REWARD_CASES } from "./cases.js";

const driver = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../test/reward/shim_driver.py");

/** Python that imports the generated shim as `m` and reads one item from stdin as `it`. */
function loadShimAndItem(shim: string): string {
  return `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("shim", ${JSON.stringify(shim)})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
it = json.loads(sys.stdin.read())`;
}

function python(args: string[], input: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

type PyResult = { score: number; format: number; execution: number; reasoning: number; execution_correct: boolean; reason: string };

test("reward shim (python3) returns exactly the TypeScript reward on the case table: single, batch and async forms", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-shim-"));
  // Started without configs: the shims register theirs on the first unknown_config answer.
  const service = await startRewardService();
  try {
    const shims = new Map<string, string>();
    for (const c of REWARD_CASES) {
      const id = rewardConfigId(c.config);
      if (shims.has(id)) continue;
      const file = path.join(dir, `reward_${id}.py`);
      await writeRewardShim({ path: file, url: service.url, rewardConfig: c.config });
      shims.set(id, file);
    }
    const cases = REWARD_CASES.map((c) => ({ shim: shims.get(rewardConfigId(c.config))!, item: c.item }));
    const run = await python([driver], JSON.stringify({ cases, verl_noise: true }));
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Record<"single" | "batch" | "async", PyResult[]>;
    REWARD_CASES.forEach((c, i) => {
      const ts = scoreResponse(c.config, c.item);
      const expected: PyResult = { ...ts, reason: ts.reason ?? "" } as PyResult;
      for (const form of ["single", "batch", "async"] as const) {
        assert.deepEqual(out[form][i], expected, `${c.name} (${form} form)`);
        // Exact float equality, not just deepEqual's: the numbers travel as shortest round-trip decimals.
        assert.ok(out[form][i]!.score === ts.score, `${c.name} (${form}): ${out[form][i]!.score} !== ${ts.score}`);
      }
    });
  } finally {
    await service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("reward shim: TOOLLOOP_REWARD_URL overrides the embedded URL; a malformed service answer scores 0 with the reason; an unreachable service raises a clear error after the timeout", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-shim-"));
  const service = await startRewardService();
  // A stand-in for a broken service: every answer is 200 with a body that is not a score.
  const broken = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end(req.url === "/v1/score/batch" ? '{"results": [{"score": "high"}]}' : "<html>oops</html>"));
  });
  await new Promise<void>((r) => broken.listen(0, "127.0.0.1", r));
  const brokenUrl = `http://127.0.0.1:${(broken.address() as { port: number }).port}`;
  try {
    const config = rewardConfigSchema.parse({});
    const shim = path.join(dir, "reward.py");
    await writeRewardShim({ path: shim, url: "http://127.0.0.1:9", rewardConfig: config });
    const c = REWARD_CASES[0]!;
    const script = `${loadShimAndItem(shim)}
try:
    single = m.compute_score(it["data_source"], it["solution_str"], it["ground_truth"], it["extra_info"])
    batch = m.compute_score_batch([it["data_source"]], [it["solution_str"]], [it["ground_truth"]], [it["extra_info"]])
    print(json.dumps({"single": single, "batch": batch}))
except m.RewardServiceUnavailable as err:
    print(json.dumps({"unavailable": str(err)}))
`;
    const ok = await python(["-c", script], JSON.stringify(c.item), { TOOLLOOP_REWARD_URL: service.url });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { single: PyResult }).single.score, scoreResponse(config, c.item).score);

    const bad = await python(["-c", script], JSON.stringify(c.item), { TOOLLOOP_REWARD_URL: brokenUrl });
    assert.equal(bad.code, 0, bad.stderr);
    const badOut = JSON.parse(bad.stdout) as { single: PyResult; batch: PyResult[] };
    assert.equal(badOut.single.score, 0);
    assert.equal(badOut.single.format, 0);
    assert.match(badOut.single.reason, /malformed/);
    assert.equal(badOut.batch[0]!.score, 0);
    assert.match(badOut.batch[0]!.reason, /malformed batch/);

    const started = Date.now();
    const down = await python(["-c", script], JSON.stringify(c.item), { TOOLLOOP_REWARD_TIMEOUT_S: "1" });
    assert.equal(down.code, 0, down.stderr);
    const downOut = JSON.parse(down.stdout) as { unavailable: string };
    assert.match(downOut.unavailable, /reward service at http:\/\/127\.0\.0\.1:9 did not answer for 1 s/);
    assert.ok(Date.now() - started < 20_000);
  } finally {
    broken.close();
    await service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("reward shim: follows the URL file the hosting worker rewrites, so a running job survives the service moving", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-shim-"));
  const service = await startRewardService();
  try {
    const config = rewardConfigSchema.parse({});
    const shim = path.join(dir, "reward.py");
    // Embedded: a dead address (the service of a worker that has since restarted).
    await writeRewardShim({ path: shim, url: "http://127.0.0.1:9", rewardConfig: config });
    const c = REWARD_CASES[0]!;
    // The job scores once against the dead address (retrying), the worker writes the new address meanwhile.
    const script = `${loadShimAndItem(shim)}
import threading, os
def move():
    with open(os.path.join(${JSON.stringify(dir)}, "${REWARD_URL_FILE}"), "w") as f:
        f.write(${JSON.stringify(service.url)} + "\\n")
threading.Timer(1.0, move).start()
print(json.dumps(m.compute_score(it["data_source"], it["solution_str"], it["ground_truth"], it["extra_info"])))
`;
    const out = await python(["-c", script], JSON.stringify(c.item), { TOOLLOOP_REWARD_TIMEOUT_S: "30" });
    assert.equal(out.code, 0, out.stderr);
    assert.equal((JSON.parse(out.stdout) as PyResult).score, scoreResponse(config, c.item).score);
  } finally {
    await service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
