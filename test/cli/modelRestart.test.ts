/**
 * `toolloop model restart`: a policy server that ended by itself is brought back through the launcher
 * that started it. A one-iteration campaign serves its policy (the LLM simulator) through the real
 * local launcher; the server process is then killed from outside with SIGTERM (as `kill PID` would).
 * `campaign status` asks the launcher and says the server is not running (failed, exit 143, not
 * `succeeded`) with the restart command; `model restart` submits the same request again (same URL
 * and served name), records the new job and points the served version at it, and waits until it
 * answers. It refuses a server still running, one stopped on purpose, and unknown ids.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { campaigns, clusterJobs } from "../../src/db/schema.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { isSameProcessAlive, parseProcessIdentity } from "../../src/training/launchers/processIdentity.js";
import { stopServedPolicies } from "../../src/training/servedPolicyJobs.js";
import { cliEnvOf, runCli, type CliResult } from "../helpers/cli.js";
import { runServingCampaign, servedVersion } from "../helpers/servedPolicyCampaign.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>> | undefined;
const id = `mrestart-${Date.now().toString(36)}`;
const served2 = `${id}-a`;
const caller = `${id}-b`;

before(async () => {
  env = await createTestEnv("modelrestart");
  workers = await env.startWorkers();
});
after(async () => {
  for (const c of [id, served2]) await stopServedPolicies(env.db.db, c, launcher(), () => undefined);
  await workers?.stop();
  await env?.close();
});

const launcher = () => ({ kind: "local" as const, stateDir: path.join(env.workDir, "local-jobs") });
const cli = (args: string[]): Promise<CliResult> => runCli(args, cliEnvOf(env));
const show = (r: CliResult) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;
const serveJobs = (campaignId = id) =>
  env.db.db
    .select()
    .from(clusterJobs)
    .where(and(eq(clusterJobs.campaignId, campaignId), eq(clusterJobs.stage, "serve.policy")))
    .orderBy(clusterJobs.attempt);

/** Kills the server (the wrapper's only child) with `signal` and waits for the wrapper to record its exit code. */
async function killServer(jobName: string, signal: NodeJS.Signals): Promise<string> {
  const proc = parseProcessIdentity(fs.readFileSync(path.join(launcher().stateDir, `${jobName}.pid`), "utf8"));
  assert.ok(proc && isSameProcessAlive(proc), `${jobName}'s wrapper runs`);
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(proc.pid)], { encoding: "utf8" })
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
  assert.equal(children.length, 1, `the wrapper ${proc.pid} runs one server process`);
  process.kill(children[0]!, signal);
  const exitFile = path.join(launcher().stateDir, `${jobName}.exit`);
  for (let waited = 0; !fs.existsSync(exitFile) && waited < 15_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  return fs.readFileSync(exitFile, "utf8").trim();
}

async function models(url: string): Promise<string[]> {
  const res = await fetch(`${url}/models`, { signal: AbortSignal.timeout(5000) });
  return ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id);
}

test(
  "model restart: a policy server killed from outside is reported not running, restarted at the same URL, and refused when it runs or was stopped",
  { timeout: 300_000 },
  async () => {
    await runServingCampaign(env, id, 1, launcher());
    const [first] = await serveJobs();
    assert.ok(first);
    const before = await servedVersion(env, id, 1);
    assert.ok(before?.url && before.servedModel);
    assert.deepEqual(await models(before.url), [before.servedModel]);

    // Running: nothing to restart (exit 1).
    const running = await cli(["model", "restart", id]);
    assert.equal(running.status, 1, show(running));
    assert.match(running.stderr, new RegExp(`the policy server of ${id} iteration 1 \\(${first.name}\\) is still running \\(its local launcher says so\\)`));
    assert.equal((await serveJobs()).length, 1, "no job submitted");

    // `kill PID` (SIGTERM) from outside: the simulator closes and exits 143, which the launcher reads as failed.
    assert.equal(await killServer(first.name, "SIGTERM"), "143");
    assert.equal((await serveJobs())[0]!.state, "running", "nothing watches it: PostgreSQL still says running");

    // campaign status asks the launcher: not running, how it ended, and the command that brings it back.
    const status = await cli(["campaign", "status", id]);
    assert.equal(status.status, 0, show(status));
    assert.match(
      status.stdout,
      new RegExp(
        `the policy server of iteration 1 \\(${before.url.replace(/[.]/g, "\\.")}\\) is not running: its local launcher says job ${first.name} failed \\(exited with code 143 \\(ended by SIGTERM\\)\\)`,
      ),
    );
    assert.match(status.stdout, new RegExp(`toolloop model restart ${id} --iteration 1`));
    assert.doesNotMatch(status.stdout, /model stop/);
    const ended = (await serveJobs())[0]!;
    assert.equal(ended.state, "failed");
    assert.equal(ended.exitCode, 143);

    // Bad ids: exit 2, nothing submitted.
    const badIteration = await cli(["model", "restart", id, "--iteration", "4"]);
    assert.equal(badIteration.status, 2, show(badIteration));
    assert.match(badIteration.stderr, /has no served policy of iteration 4 \(served in iteration 1/);
    const badCampaign = await cli(["model", "restart", `${id}-nope`]);
    assert.equal(badCampaign.status, 2, show(badCampaign));
    const badTimeout = await cli(["model", "restart", id, "--timeout-seconds", "soon"]);
    assert.equal(badTimeout.status, 2, show(badTimeout));
    assert.match(badTimeout.stderr, /--timeout-seconds "soon": expected a whole number of seconds/);
    assert.equal((await serveJobs()).length, 1);

    // The restart: the same request through the same launcher, a new job row, the version points at it.
    const restarted = await cli(["model", "restart", id, "--version", `${id}:1:served`]);
    assert.equal(restarted.status, 0, show(restarted));
    assert.match(restarted.stdout, new RegExp(`iteration 1 ${id}:1:served: ${first.name} had ended, failed \\(exited with code 143 \\(ended by SIGTERM\\)\\)`));
    assert.match(restarted.stdout, /restarted as tl-\S+-i1-serve-policy-res-a2 \(local \d+, attempt 2\); .* serves at .* \(the URL recorded before\)/);
    assert.match(restarted.stderr, /\[model restart\] ready after \d+ s/);
    const jobs = await serveJobs();
    assert.equal(jobs.length, 2);
    const second = jobs[1]!;
    assert.match(second.name, /-i1-serve-policy-res-a2$/);
    assert.deepEqual({ attempt: second.attempt, state: second.state, launcher: second.launcher }, { attempt: 2, state: "running", launcher: "local" });
    assert.deepEqual(second.request, { ...(first.request as object), name: second.name }, "the same request (command, port, env, folder)");
    assert.equal(jobs[0]!.state, "failed", "the ended job keeps its record");
    const after = await servedVersion(env, id, 1);
    assert.deepEqual(
      { url: after?.url, servedModel: after?.servedModel, jobName: after?.jobName, stoppedAt: after?.stoppedAt },
      {
        url: before.url,
        servedModel: before.servedModel,
        jobName: second.name,
        stoppedAt: null,
      },
    );
    assert.deepEqual(await models(before.url), [before.servedModel], "it answers at the recorded URL");

    // Everything agrees that it serves again.
    const listed = await cli(["model", "list", id]);
    assert.match(listed.stdout, /iteration 1 served .* SERVING(?!\?)/, show(listed));
    const restatus = await cli(["campaign", "status", id]);
    assert.doesNotMatch(restatus.stdout, /not running|model restart/, show(restatus));
    assert.match(restatus.stdout, new RegExp(`toolloop model stop ${id}`));
    const again = await cli(["model", "restart", id, "--json"]);
    assert.equal(again.status, 1, show(again));
    assert.match(again.stderr, /is still running/);

    // Stopped on purpose: not restarted.
    const stop = await cli(["model", "stop", id]);
    assert.equal(stop.status, 0, show(stop));
    assert.match(stop.stdout, new RegExp(`iteration 1 ${second.name} \\(local\\): stopped, cancelled`));
    const refused = await cli(["model", "restart", id]);
    assert.equal(refused.status, 1, show(refused));
    assert.match(refused.stderr, /was stopped on purpose \(`model stop`\), not ended by itself: not restarted/);
    assert.match(
      refused.stderr,
      new RegExp(`To serve it again, run \`model restart ${id} --iteration 1 --stopped\``),
      "advice that works on a completed campaign",
    );
    assert.equal((await serveJobs()).length, 2);
    // The operator wants it back after all.
    const back = await cli(["model", "restart", id, "--stopped"]);
    assert.equal(back.status, 0, show(back));
    assert.equal((await serveJobs()).length, 3);
    const served = await cli(["model", "list", id]);
    assert.match(served.stdout, /iteration 1 served .* SERVING(?!\?)/, show(served));
    assert.equal((await cli(["model", "stop", id])).status, 0);
  },
);

test(
  "a stage calling a policy server that was killed waits with the launcher's word and the restart command; after `model restart`, `retry-stage` completes it",
  { timeout: 300_000 },
  async () => {
    // Campaign A serves; campaign B continues from it, so its first iteration calls A's server (deterministically after the kill).
    await runServingCampaign(env, served2, 1, launcher());
    const [job] = await serveJobs(served2);
    assert.equal(await killServer(job!.name, "SIGKILL"), "137");
    await env.db.db.insert(campaigns).values({ id: caller, name: caller, config: {}, status: "running", continuesFrom: served2 });
    const config = simulatorCampaign("http://127.0.0.1:9/v1", {
      campaignId: caller,
      roles: { generator: { endpoint: "sim", model: "toolloop-sim" }, policy: { endpoint: "sim", model: "toolloop-sim" } },
      stages: [{ name: "evaluate.bfclFast", categories: ["simple"], limitPerCategory: 3, batchSize: 1 }],
    } as never);
    const handle = await env.client.workflow.start("campaignWorkflow", {
      workflowId: campaignWorkflowId(caller),
      taskQueue: taskQueues(env.queuePrefix).workflows,
      args: [{ config, campaignId: caller }],
    });

    let status: CliResult | undefined;
    for (let waited = 0; waited < 120_000; waited += 1000) {
      status = await cli(["campaign", "status", caller]);
      if (/WAITING FOR OPERATOR/.test(status.stdout)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.match(status!.stdout, /WAITING FOR OPERATOR/, show(status!));
    assert.match(status!.stdout, /endpoint served-policy-iter-1 \(http:\/\/127\.0\.0\.1:\d+\/v1\) is unavailable for role policy/);
    assert.match(
      status!.stdout,
      new RegExp(
        `it is the policy server serve\\.policy of campaign ${served2} iteration 1 started \\(job ${job!.name}\\), and it is not running: its local launcher says failed \\(exited with code 137 \\(ended by SIGKILL, e\\.g\\. kill -9 or the OOM killer\\)\\); ` +
          `\`toolloop model restart ${served2} --iteration 1\` brings it back \\(same URL and model name\\), then \`toolloop campaign retry-stage ${caller}\``,
      ),
      show(status!),
    );

    const restarted = await cli(["model", "restart", served2]);
    assert.equal(restarted.status, 0, show(restarted));
    const retried = await cli(["campaign", "retry-stage", caller]);
    assert.equal(retried.status, 0, show(retried));
    const result = await Promise.race([
      handle.result(),
      new Promise<never>((_, reject) =>
        setTimeout(() => {
          void cli(["campaign", "status", caller]).then((st) => reject(new Error(`not completed 90 s after the retry:\n${show(st)}`)), reject);
        }, 90_000).unref(),
      ),
    ]);
    assert.equal(result.state, "completed");
  },
);
