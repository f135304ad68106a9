/**
 * `toolloop model list` asks the launcher whether a server PostgreSQL records as running still runs.
 * A one-iteration campaign serves its policy (the LLM simulator) through the real local launcher; the
 * server process is then killed from outside (as an OOM kill or a crash would end it). The CLI as a
 * process shows it `exited failed (exited with code 137 (ended by SIGKILL, …))` and records it as `model stop` records an
 * ended job (job row failed and finished, the served version stopped), once; `campaign status` then
 * offers no `model stop`. A launcher that cannot be reached (a Ray dashboard port nothing listens on,
 * one that never answers) gives `SERVING?` with a note naming it and the reason, and exit 0.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { recordJobIntent, recordJobSubmitted } from "../../src/db/repos/clusterJobs.js";
import { insertConfigVersion } from "../../src/db/repos/campaignConfigs.js";
import { upsertModelVersion } from "../../src/db/repos/modelVersions.js";
import { campaigns, clusterJobs } from "../../src/db/schema.js";
import { isSameProcessAlive, parseProcessIdentity } from "../../src/training/launchers/processIdentity.js";
import { stopServedPolicies } from "../../src/training/servedPolicyJobs.js";
import { cliEnvOf, runCli, type CliResult } from "../helpers/cli.js";
import { runServingCampaign, servePolicyJob, servedVersion as servedVersionOf } from "../helpers/servedPolicyCampaign.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>> | undefined;
const id = `mlist-${Date.now().toString(36)}`;
const servers: net.Server[] = [];

before(async () => {
  env = await createTestEnv("modellist");
  workers = await env.startWorkers();
});
after(async () => {
  // Whatever the test left running (a failed assertion before the kill).
  await stopServedPolicies(env.db.db, id, launcher(), () => undefined);
  for (const s of servers) s.close();
  await workers?.stop();
  await env?.close();
});

const launcher = () => ({ kind: "local" as const, stateDir: path.join(env.workDir, "local-jobs") });
const cli = (args: string[]): Promise<CliResult> => runCli(args, cliEnvOf(env));
const show = (r: CliResult) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;

const jobRow = (campaignId: string, iteration: number) => servePolicyJob(env, campaignId, iteration);
const servedVersion = (campaignId: string, iteration: number) => servedVersionOf(env, campaignId, iteration);

test("model list: a policy server killed from outside reads exited, and is recorded so, once", { timeout: 300_000 }, async () => {
  await runServingCampaign(env, id, 1, launcher());

  const job = await jobRow(id, 1);
  assert.equal(job.state, "running");
  const proc = parseProcessIdentity(fs.readFileSync(path.join(launcher().stateDir, `${job.name}.pid`), "utf8"));
  assert.ok(proc && isSameProcessAlive(proc), "the server's process runs after the campaign completed");
  const listed = await cli(["model", "list", id]);
  assert.equal(listed.status, 0, show(listed));
  assert.match(listed.stdout, /iteration 1 served .* SERVING(?!\?)/, "the launcher confirms it runs");
  assert.doesNotMatch(listed.stdout, /note:/);
  assert.equal((await jobRow(id, 1)).state, "running", "a confirmed server's row is left as it is");
  const status = await cli(["campaign", "status", id]);
  assert.match(status.stdout, new RegExp(`toolloop model stop ${id}`));

  // Killed from outside: the server (the wrapper's child), not through toolloop. The wrapper records its exit code.
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(proc.pid)], { encoding: "utf8" })
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
  assert.equal(children.length, 1, `the wrapper ${proc.pid} runs one server process`);
  process.kill(children[0]!, "SIGKILL");
  const exitFile = path.join(launcher().stateDir, `${job.name}.exit`);
  for (let waited = 0; !fs.existsSync(exitFile) && waited < 10_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  assert.equal(fs.readFileSync(exitFile, "utf8").trim(), "137");
  assert.equal((await jobRow(id, 1)).state, "running", "nothing watches it: PostgreSQL still says running");

  const relisted = await cli(["model", "list", id]);
  assert.equal(relisted.status, 0, show(relisted));
  assert.match(relisted.stdout, /iteration 1 served .* exited failed \(exited with code 137 \(ended by SIGKILL, e\.g\. kill -9 or the OOM killer\)\)/);
  assert.doesNotMatch(relisted.stdout, /SERVING/);
  const ended = await jobRow(id, 1);
  assert.equal(ended.state, "failed");
  assert.equal(ended.exitCode, 137);
  assert.equal(ended.message, "exited with code 137 (ended by SIGKILL, e.g. kill -9 or the OOM killer)");
  assert.ok(ended.finishedAt, "the job row is finished");
  const stoppedAt = (await servedVersion(id, 1))?.stoppedAt;
  assert.ok(stoppedAt, "the served version is marked no longer served");

  // Again, and as JSON: the same, from PostgreSQL; the first record is kept.
  const again = await cli(["model", "list", id, "--json"]);
  assert.equal(again.status, 0, show(again));
  const rows = JSON.parse(again.stdout) as { kind: string; serving?: string; server?: { state: string; exitCode?: number; launcher: string } }[];
  const servedRows = rows.filter((r) => r.kind === "served");
  assert.equal(servedRows.length, 1);
  assert.equal(servedRows[0]!.serving, "ended");
  assert.deepEqual(
    { state: servedRows[0]!.server?.state, exitCode: servedRows[0]!.server?.exitCode, launcher: servedRows[0]!.server?.launcher },
    { state: "failed", exitCode: 137, launcher: "local" },
  );
  assert.equal((await jobRow(id, 1)).finishedAt?.getTime(), ended.finishedAt.getTime());
  assert.equal((await servedVersion(id, 1))?.stoppedAt?.getTime(), stoppedAt.getTime());

  // campaign status and model stop agree: nothing to stop.
  const restatus = await cli(["campaign", "status", id]);
  assert.equal(restatus.status, 0, show(restatus));
  assert.doesNotMatch(restatus.stdout, /model stop/);
  const stop = await cli(["model", "stop", id]);
  assert.equal(stop.status, 0, show(stop));
  assert.match(stop.stdout, /no policy server of .* is running; nothing to stop/);
  assert.match(stop.stdout, /iteration 1 .*: failed \(exited with code 137 \(ended by SIGKILL/);
});

/** A campaign whose iteration-1 server ran on a Ray cluster at `address`, as PostgreSQL records it: running. */
async function seedRayCampaign(campaignId: string, address: string): Promise<string> {
  await env.db.db.insert(campaigns).values({ id: campaignId, name: campaignId, config: {}, status: "completed" });
  await insertConfigVersion(env.db.db, campaignId, {
    version: 1,
    sha256: "0".repeat(64),
    frozen: { schemaVersion: 1, config: { cluster: { launcher: { kind: "ray", address, headers: {} } } } } as never,
    appliesFromIteration: 1,
  });
  const name = `${campaignId}-serve-1`;
  await recordJobIntent(env.db.db, { name, campaignId, iteration: 1, stage: "serve.policy", attempt: 1, launcher: "ray", request: {} });
  await recordJobSubmitted(env.db.db, name, name);
  await env.db.db.update(clusterJobs).set({ state: "running" }).where(eq(clusterJobs.name, name));
  await upsertModelVersion(env.db.db, {
    campaignId,
    iteration: 1,
    kind: "served",
    baseModel: "base",
    url: "http://127.0.0.1:9/v1",
    servedModel: `${campaignId}-iter-1`,
    jobName: name,
  });
  return name;
}

async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}

test("model list: a launcher that cannot be reached gives SERVING? with a note, exit 0, and records nothing", { timeout: 60_000 }, async () => {
  // Refused: a port nothing listens on (taken, then freed).
  const closed = net.createServer();
  const port = await listen(closed);
  await new Promise((r) => closed.close(r));
  const refusedId = `${id}-refused`;
  const refusedJob = await seedRayCampaign(refusedId, `http://127.0.0.1:${port}`);
  // Silent: accepts connections, never answers; the deadline ends the wait.
  const silentPort = await listen(net.createServer(() => undefined));
  const silentId = `${id}-silent`;
  const silentJob = await seedRayCampaign(silentId, `http://127.0.0.1:${silentPort}`);

  const refused = await cli(["model", "list", refusedId]);
  assert.equal(refused.status, 0, show(refused));
  assert.match(refused.stdout, /iteration 1 served .* SERVING\?/);
  assert.match(
    refused.stdout,
    new RegExp(
      `note: could not ask the ray launcher whether ${refusedJob} still runs \\(.*127\\.0\\.0\\.1:${port}.*ECONNREFUSED.*\\); PostgreSQL last recorded it running`,
    ),
  );
  const started = Date.now();
  const silent = await cli(["model", "list", silentId, "--json"]);
  assert.equal(silent.status, 0, show(silent));
  assert.ok(Date.now() - started < 30_000, "the deadline bounds the wait");
  const row = (JSON.parse(silent.stdout) as { kind: string; serving?: string; servingNote?: string }[]).find((r) => r.kind === "served");
  assert.equal(row?.serving, "unconfirmed");
  assert.match(
    row?.servingNote ?? "",
    new RegExp(`could not ask the ray launcher whether ${silentJob} still runs \\(.*(no answer|gave no answer) within 5000 ms`),
  );

  for (const [campaignId, name] of [
    [refusedId, refusedJob],
    [silentId, silentJob],
  ] as const) {
    const job = await jobRow(campaignId, 1);
    assert.equal(job.name, name);
    assert.equal(job.state, "running", "an unanswered check changes nothing");
    assert.equal(job.finishedAt, null);
    assert.equal((await servedVersion(campaignId, 1))?.stoppedAt, null);
  }
});
