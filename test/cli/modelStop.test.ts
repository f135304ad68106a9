/**
 * `toolloop model stop` against a real served policy: a two-iteration campaign whose serve.policy
 * runs the LLM simulator through the local launcher (the merged versions it serves are written
 * here: no training), run to completion by a worker; then the CLI as a process stops the last
 * server. Asserts the process is gone, the job and model version rows say stopped, a second stop
 * is a no-op, unknown ids are refused with exit 2, and a server a running campaign still calls is
 * refused without --force.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { campaigns } from "../../src/db/schema.js";
import { isProcessGroupAlive, isSameProcessAlive, parseProcessIdentity } from "../../src/training/launchers/processIdentity.js";
import { stopServedPolicies } from "../../src/training/servedPolicyJobs.js";
import { cliEnvOf, runCli, type CliResult } from "../helpers/cli.js";
import { runServingCampaign, servePolicyJob, servedVersion as servedVersionOf } from "../helpers/servedPolicyCampaign.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>> | undefined;
const id = `mstop-${Date.now().toString(36)}`;

before(async () => {
  env = await createTestEnv("modelstop");
  workers = await env.startWorkers();
});
after(async () => {
  // Whatever the test left running (a failed assertion before the stop).
  await stopServedPolicies(env.db.db, id, launcher(), () => undefined);
  await workers?.stop();
  await env?.close();
});

const launcher = () => ({ kind: "local" as const, stateDir: path.join(env.workDir, "local-jobs") });
const cli = (args: string[]): Promise<CliResult> => runCli(args, cliEnvOf(env));
const show = (r: CliResult) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;

const jobRow = (iteration: number) => servePolicyJob(env, id, iteration);
const servedVersion = (iteration: number) => servedVersionOf(env, id, iteration);

test("model stop: stops a completed campaign's last policy server through its launcher, once", { timeout: 300_000 }, async () => {
  await runServingCampaign(env, id, 2, launcher());

  // Iteration 1's server was superseded once iteration 2 served; iteration 2's is the campaign's product and runs on.
  const job = await jobRow(2);
  assert.equal(job.state, "running");
  assert.equal((await jobRow(1)).state, "cancelled");
  assert.ok((await servedVersion(1))?.stoppedAt, "a superseded server's version is marked stopped");
  const served = await servedVersion(2);
  assert.ok(served?.url && !served.stoppedAt);
  const models = (await (await fetch(`${served.url}/models`)).json()) as { data: { id: string }[] };
  assert.deepEqual(
    models.data.map((m) => m.id),
    [`${id}-iter-2`],
  );
  const pidFile = path.join(launcher().stateDir, `${job.name}.pid`);
  const proc = parseProcessIdentity(fs.readFileSync(pidFile, "utf8"));
  assert.ok(proc && isSameProcessAlive(proc), "the server's process runs after the campaign completed");

  const listed = await cli(["model", "list", id]);
  assert.equal(listed.status, 0, show(listed));
  assert.match(listed.stdout, /iteration 1 served .* stopped \d{4}-/);
  assert.match(listed.stdout, /iteration 2 served .* SERVING/);
  const status = await cli(["campaign", "status", id]);
  assert.equal(status.status, 0, show(status));
  assert.match(
    status.stdout,
    new RegExp(`toolloop model stop ${id} +# stop its policy server \\(iteration 2 at ${served.url.replace(/[.]/g, "\\.")}; kept running`),
  );

  // Unknown ids: named, exit 2, nothing touched.
  const noCampaign = await cli(["model", "stop", `${id}-nope`]);
  assert.equal(noCampaign.status, 2, show(noCampaign));
  assert.match(noCampaign.stderr, new RegExp(`no campaign "${id}-nope" in PostgreSQL`));
  const noIteration = await cli(["model", "stop", id, "--iteration", "7"]);
  assert.equal(noIteration.status, 2, show(noIteration));
  assert.match(noIteration.stderr, /has no policy server of iteration 7 \(serve\.policy ran in iteration 1, 2; `toolloop model list \S+` shows them\)/);
  const badVersion = await cli(["model", "stop", id, "--version", "other:2:served"]);
  assert.equal(badVersion.status, 2, show(badVersion));
  assert.match(badVersion.stderr, /is not a served version of .*, as `toolloop model list \S+` prints/);

  // A running campaign that continues this one calls the server until it serves its own: refused without --force.
  const successor = `${id}-next`;
  await env.db.db.insert(campaigns).values({ id: successor, name: "next", config: {}, status: "running", continuesFrom: id });
  const refused = await cli(["model", "stop", id]);
  assert.equal(refused.status, 1, show(refused));
  assert.match(refused.stderr, new RegExp(`in use: campaign ${successor} continues from it .*--force`));
  assert.ok(isSameProcessAlive(proc), "a refused stop leaves the server running");
  await env.db.db.update(campaigns).set({ status: "completed" }).where(eq(campaigns.id, successor));

  // Only iteration 1's server, which has ended: that one is not running, but iteration 2's is (it said "no policy server of <id> is running").
  const first = await cli(["model", "stop", id, "--version", `${id}:1:served`]);
  assert.equal(first.status, 0, show(first));
  assert.match(
    first.stdout,
    new RegExp(`^the policy server of ${id} iteration 1 is not running; nothing to stop \\(\`toolloop model list ${id}\` shows the others\\)\n`),
  );
  assert.doesNotMatch(first.stdout, /no policy server of/);
  assert.ok(isSameProcessAlive(proc), "iteration 2's server runs on");

  const stopped = await cli(["model", "stop", id, "--version", `${id}:2:served`]);
  assert.equal(stopped.status, 0, show(stopped));
  assert.match(stopped.stdout, new RegExp(`iteration 2 ${job.name} \\(local\\): stopped, cancelled`));
  assert.ok(!isSameProcessAlive(proc) && !isProcessGroupAlive(proc.pid), "the server's process group is gone");
  await assert.rejects(fetch(`${served.url}/models`), "nothing answers at its URL");
  const after = await jobRow(2);
  assert.equal(after.state, "cancelled");
  assert.equal(after.message, "stopped by toolloop model stop");
  assert.ok(after.finishedAt);
  assert.ok((await servedVersion(2))?.stoppedAt, "the served version is marked stopped");

  // Again: nothing to stop, said so, exit 0; the rows keep the first stop.
  const again = await cli(["model", "stop", id]);
  assert.equal(again.status, 0, show(again));
  assert.match(again.stdout, /no policy server of .* is running; nothing to stop/);
  assert.match(again.stdout, /iteration 2 .*: cancelled \(stopped by toolloop model stop\)/);
  assert.equal((await jobRow(2)).finishedAt?.getTime(), after.finishedAt.getTime());

  const relisted = await cli(["model", "list", id]);
  assert.match(relisted.stdout, /iteration 2 served .* stopped \d{4}-/);
  const json = JSON.parse((await cli(["model", "list", id, "--json"])).stdout) as { kind: string; serving?: string }[];
  assert.deepEqual(
    json.filter((r) => r.kind === "served").map((r) => r.serving),
    ["stopped", "stopped"],
  );
  const restatus = await cli(["campaign", "status", id]);
  assert.doesNotMatch(restatus.stdout, /model stop/);
});
