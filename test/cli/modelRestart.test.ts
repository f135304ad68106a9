/**
 * Policy servers that end: `toolloop model restart`, and the restart a waiting stage makes by itself.
 * A one-iteration campaign serves its policy (the LLM simulator) through the real local launcher; the
 * server process is then killed from outside (as `kill PID` would). `campaign status` asks the
 * launcher and says the server is not running (failed, exit 143, not `succeeded`) with the restart
 * command; `model restart` submits the same request again (same URL and served name), records the
 * new job and points the served version at it, and waits until it answers. It refuses a server still
 * running, one stopped on purpose, and unknown ids. A campaign whose stage calls a killed server
 * restarts it the same way by itself and completes; one stopped on purpose waits for the operator.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { campaigns, clusterJobs, stageRuns } from "../../src/db/schema.js";
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
  for (const c of [id, served2, `${id}-c`]) await stopServedPolicies(env.db.db, c, launcher(), () => undefined);
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
    assert.match(running.stderr, new RegExp(`nothing to restart \\(if it hangs, \`toolloop model stop ${id} --iteration 1 --force\` first\\)`));
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
    assert.match(badIteration.stderr, /has no served policy of iteration 4 \(served in iteration 1; `toolloop model list \S+` shows them\)/);
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
    // The folder did not change: the served checkpoint's identity stays, so results stored against it are still reused.
    const checkpointOf = (v: typeof after) => (v?.details as { checkpoint?: { fingerprint?: string } } | null)?.checkpoint;
    assert.match(checkpointOf(after)?.fingerprint ?? "", /^sha256:/);
    assert.deepEqual(checkpointOf(after), checkpointOf(before));

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
      new RegExp(`To serve it again, run \`toolloop model restart ${id} --iteration 1 --stopped\``),
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

/** Starts campaign `callerId` continuing from `servedId`: its first iteration's evaluate.bfclFast calls servedId's policy server. */
async function startCaller(callerId: string, servedId: string) {
  await env.db.db.insert(campaigns).values({ id: callerId, name: callerId, config: {}, status: "running", continuesFrom: servedId });
  const config = simulatorCampaign("http://127.0.0.1:9/v1", {
    campaignId: callerId,
    roles: { generator: { endpoint: "sim", model: "toolloop-sim" }, policy: { endpoint: "sim", model: "toolloop-sim" } },
    stages: [{ name: "evaluate.bfclFast", categories: ["simple"], limitPerCategory: 3, batchSize: 1 }],
  } as never);
  return env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(callerId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId: callerId }],
  });
}

/** The campaign's result within `ms`, else a failure showing its status. */
async function completesWithin<T>(handle: { result(): Promise<T> }, callerId: string, ms: number): Promise<T> {
  return Promise.race([
    handle.result(),
    new Promise<never>((_, reject) =>
      setTimeout(() => {
        void cli(["campaign", "status", callerId]).then((st) => reject(new Error(`not completed within ${ms / 1000} s:\n${show(st)}`)), reject);
      }, ms).unref(),
    ),
  ]);
}

test(
  "a stage calling a policy server that was killed restarts the server by itself through its launcher and completes without an operator",
  { timeout: 300_000 },
  async () => {
    // Campaign A serves; campaign B continues from it, so its first iteration calls A's server (deterministically after the kill).
    await runServingCampaign(env, served2, 1, launcher());
    const [job] = await serveJobs(served2);
    const before = await servedVersion(env, served2, 1);
    assert.equal(await killServer(job!.name, "SIGKILL"), "137");
    const handle = await startCaller(caller, served2);
    const result = await completesWithin(handle, caller, 150_000);
    assert.equal(result.state, "completed");

    // The restart went the way `model restart` goes: the same request, a new job, the version points at it.
    const jobs = await serveJobs(served2);
    assert.equal(jobs.length, 2, "one restart");
    const [ended, restarted] = jobs as [(typeof jobs)[0], (typeof jobs)[0]];
    assert.deepEqual({ state: ended.state, exitCode: ended.exitCode }, { state: "failed", exitCode: 137 });
    assert.match(restarted.name, /-i1-serve-policy-res-a2$/);
    assert.equal(restarted.state, "running");
    assert.deepEqual(restarted.request, { ...(ended.request as object), name: restarted.name });
    const after = await servedVersion(env, served2, 1);
    assert.deepEqual({ url: after?.url, jobName: after?.jobName }, { url: before?.url, jobName: restarted.name });
    assert.deepEqual(await models(after!.url!), [after!.servedModel]);
    // The caller's stage ran twice: the attempt that found the server gone, and the retry once it answered.
    const [run] = await env.db.db
      .select()
      .from(stageRuns)
      .where(and(eq(stageRuns.campaignId, caller), eq(stageRuns.stage, "evaluate.bfclFast")));
    assert.deepEqual({ status: run?.status, attempts: run?.attempts }, { status: "succeeded", attempts: 2 });
  },
);

test(
  "a stage calling a policy server stopped on purpose waits for the operator, saying why it was not restarted; `model restart --stopped` brings it back and the stage retries by itself",
  { timeout: 300_000 },
  async () => {
    const servedId = `${id}-c`;
    const callerId = `${id}-d`;
    await runServingCampaign(env, servedId, 1, launcher());
    const stop = await cli(["model", "stop", servedId]);
    assert.equal(stop.status, 0, show(stop));
    const handle = await startCaller(callerId, servedId);

    let status: CliResult | undefined;
    for (let waited = 0; waited < 120_000; waited += 1000) {
      status = await cli(["campaign", "status", callerId]);
      if (/not restarted by itself/.test(status.stdout)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.match(status!.stdout, /WAITING FOR OPERATOR/, show(status!));
    assert.match(status!.stdout, /endpoint served-policy-iter-1 \(http:\/\/127\.0\.0\.1:\d+\/v1\) is unavailable for role policy/);
    assert.match(
      status!.stdout,
      new RegExp(
        `not restarted by itself: the policy server of ${servedId} iteration 1 \\(\\S+\\) was stopped on purpose \\(\`model stop\`\\), not ended by itself`,
      ),
      show(status!),
    );
    assert.equal((await serveJobs(servedId)).length, 1, "nothing restarted");

    const back = await cli(["model", "restart", servedId, "--stopped"]);
    assert.equal(back.status, 0, show(back));
    // No retry-stage: the stage's watch sees the server answer and retries by itself.
    const result = await completesWithin(handle, callerId, 90_000);
    assert.equal(result.state, "completed");
    assert.equal((await cli(["model", "stop", servedId])).status, 0);
  },
);
