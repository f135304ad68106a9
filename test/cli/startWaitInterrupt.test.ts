/**
 * Ctrl-C on `campaign start --wait` stops following and leaves the campaign as it is (README). It
 * exited 130 without a word; now it prints one line: the campaign goes on, and the command that
 * follows it again.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { CLI_MAIN, cliEnvOf } from "../helpers/cli.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;

before(async () => {
  env = await createTestEnv("start-interrupt");
});
after(async () => {
  await env?.close();
});

test("Ctrl-C on start --wait exits 130 with one line: the campaign goes on, `campaign status X --watch` follows it", { timeout: 90_000 }, async () => {
  const campaignId = `intr-${Date.now().toString(36)}`;
  const file = path.join(env.workDir, "intr.json");
  writeFileSync(file, JSON.stringify({ ...simulatorCampaign("http://127.0.0.1:9/v1", {}), output: { dir: path.join(env.workDir, "out") } }));
  // No worker: the campaign waits to be taken, and --wait follows it until interrupted.
  const child = spawn(process.execPath, [CLI_MAIN, "campaign", "start", "--config", file, "--id", campaignId, "--wait", "--skip-endpoint-check"], {
    env: { ...process.env, ...cliEnvOf(env) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const code = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  const deadline = Date.now() + 60_000;
  while (!/^started campaign /m.test(stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.match(stdout, /^started campaign /m, stderr);
  child.kill("SIGINT");
  assert.equal(await code, 130, stdout + stderr);
  const last = stdout.trimEnd().split("\n").at(-1);
  assert.equal(
    last,
    `stopped following (Ctrl-C leaves the campaign as it is): campaign ${campaignId} goes on running; \`toolloop campaign status ${campaignId} --watch\` follows it`,
  );
  await env.client.workflow.getHandle(campaignWorkflowId(campaignId)).terminate("test done");
});
