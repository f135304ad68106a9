/**
 * `campaign status` and `campaign list` as processes against the real dev server and PostgreSQL,
 * with NO worker running when they are called: they read Temporal's records and PostgreSQL only,
 * answer within seconds and tell the true state (running, waiting for an operator, aborted, failed,
 * terminated) with the real reason.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { and, eq, sql } from "drizzle-orm";
import { campaigns, stageBatches, stageRuns } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { NOT_REGISTERED_NOTE, type CampaignListEntry } from "../../src/status/campaignList.js";
import { taskQueues } from "../../src/taskQueues.js";
import { defaultPayloadConverter } from "@temporalio/common";
import { follow } from "../../src/cli/campaign.js";
import { campaignWorkflowId, iterationWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { cliEnvOf, runCli, runCliUntil, type CliResult } from "../helpers/cli.js";
import { closedPort } from "../helpers/deadEndpoints.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
/** Slow enough to watch a stage mid-way. */
const SIM_LATENCY_MS = 150;

before(async () => {
  env = await createTestEnv("status");
  sim = await startSimulator({ seed: 11, latencyMs: SIM_LATENCY_MS, maxConcurrency: 4, quiet: true });
});

after(async () => {
  await sim?.close();
  await env?.close();
});

/** The CLI as a child process against the test environment (no task-queue prefix: status needs none). */
const cli = (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> =>
  runCli(args, { TEMPORAL_ADDRESS: env.temporalAddress, TEMPORAL_NAMESPACE: env.namespace, DATABASE_URL: env.databaseUrl, ...extraEnv });

function start(config: unknown, campaignId: string) {
  return env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
}

async function batchesDone(campaignId: string): Promise<number> {
  const rows = await env.db.db
    .select({ n: sql<number>`count(*)::int` })
    .from(stageBatches)
    .where(eq(stageBatches.campaignId, campaignId));
  return Number(rows[0]?.n ?? 0);
}

async function stageStatus(campaignId: string, stage: string): Promise<string | undefined> {
  const rows = await env.db.db
    .select({ status: stageRuns.status })
    .from(stageRuns)
    .where(and(eq(stageRuns.campaignId, campaignId), eq(stageRuns.stage, stage)));
  return rows[0]?.status;
}

const NO_STACK = /\n\s+at /;
/**
 * A query without a worker hangs until its deadline (30 s and more); status must answer promptly.
 * Node startup and module loading dominate a CLI process on a loaded machine, so the bound is on what
 * status adds to `--help` run just before (its reads take a few hundred ms; a hang adds 30 s).
 */
async function assertPrompt(r: { ms: number }, what: string, t: { diagnostic(m: string): void }): Promise<void> {
  const baseline = (await cli(["--help"])).ms;
  t.diagnostic(`status (${what}, no worker) took ${r.ms} ms; \`--help\` took ${baseline} ms`);
  // A hang would add the query's 30 s deadline; a loaded machine slows both runs alike.
  assert.ok(r.ms - baseline < 15_000, `status (${what}) took ${r.ms} ms, --help ${baseline} ms`);
}

/** One synthesis stage of 200 samples run one batch of 10 at a time: slow enough to watch mid-stage. */
function oneBatchAtATime() {
  const count = 200;
  return simulatorCampaign(sim.url, {
    count,
    batchSize: 10,
    concurrency: { batchesInParallel: 1 },
    stages: [{ name: "synthesize.singleTurn", count, batchSize: 10 }],
  });
}

test("with the worker stopped, status tells running (with rate), then waiting for an operator (with the next commands), then aborted", async (t) => {
  const campaignId = `st-run-${Date.now().toString(36)}`;
  const config = oneBatchAtATime();
  let workers = await env.startWorkers();
  const handle = await start(config, campaignId);
  try {
    await waitFor("three finished batches", async () => (await batchesDone(campaignId)) >= 3, 120_000);
  } finally {
    await workers.stop();
  }

  // No worker: the answer comes from PostgreSQL and Temporal's records, at once.
  const running = await cli(["campaign", "status", campaignId]);
  assert.equal(running.status, 0, running.stderr);
  await assertPrompt(running, "running", t);
  assert.match(running.stdout, new RegExp(`^campaign ${campaignId} \\(test\\): RUNNING, iteration 1/1$`, "m"));
  const done = await batchesDone(campaignId);
  assert.match(
    running.stdout,
    new RegExp(`^ {2}synthesize\\.singleTurn {2}${done * 10}/200 \\(\\d+%\\) {2}[\\d.]+ items/s {2}ETA (\\d+[dhm])?\\d+[smh]$`, "m"),
  );
  assert.match(running.stdout, /^ {2}toolloop campaign pause /m);
  const json = JSON.parse((await cli(["campaign", "status", campaignId, "--json"])).stdout) as Record<string, unknown>;
  assert.equal(json.state, "running");
  assert.equal(json.workflowStatus, "RUNNING");
  assert.equal((json.stages as { itemsDone: number }[])[0]?.itemsDone, done * 10);

  // The endpoint fails every call: the stage waits for an operator.
  sim.setFaults({ rate500: 1 });
  workers = await env.startWorkers();
  try {
    await waitFor("the stage to fail and wait", async () => (await stageStatus(campaignId, "synthesize.singleTurn")) === "failed", 120_000);
  } finally {
    await workers.stop();
    sim.setFaults({});
  }
  const waiting = await cli(["campaign", "status", campaignId]);
  assert.equal(waiting.status, 0, waiting.stderr);
  await assertPrompt(waiting, "waiting", t);
  assert.match(waiting.stdout, /: WAITING FOR OPERATOR, iteration 1\/1$/m);
  assert.match(waiting.stdout, /^reason: stage synthesize\.singleTurn failed: .*(500|server)/im);
  assert.match(waiting.stdout, /^ {2}synthesize\.singleTurn {2}\d+\/200 \(\d+%\) {2}waiting for operator$/m);
  // The failed batches finished nothing, but every slot they (and the finished ones) stored counts.
  const settledWaiting = await settledSlotsOf(campaignId);
  assert.ok(settledWaiting >= done * 10, `slots stored (${settledWaiting}), the finished batches' included`);
  assert.match(waiting.stdout, new RegExp(`^ {2}synthesize\\.singleTurn {2}${Math.min(200, settledWaiting)}/200 `, "m"));
  for (const cmd of ["retry-stage", "skip-stage", "abort"]) assert.match(waiting.stdout, new RegExp(`^ {2}toolloop campaign ${cmd} ${campaignId} +# `, "m"));
  const list = await cli(["campaign", "list", "--limit", "50"]);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${campaignId} +test +waiting_for_operator +1/1 +synthesize\\.singleTurn \\(failed\\)`, "m"));

  // The operator aborts with a reason; once the workflow has closed, status says so without a worker.
  workers = await env.startWorkers();
  try {
    const abort = await cli(["campaign", "abort", campaignId, "--reason", "endpoint retired"]);
    assert.equal(abort.status, 0, abort.stderr);
    // A worker has run this campaign: no note that what was sent waits for one.
    assert.doesNotMatch(abort.stdout, /no worker has run/);
    await waitFor("the campaign to close", async () => (await handle.describe()).status.name !== "RUNNING", 60_000);
  } finally {
    await workers.stop();
  }
  const aborted = await cli(["campaign", "status", campaignId, "--json"]);
  const a = JSON.parse(aborted.stdout) as { state: string; reason: string; workflowStatus: string };
  assert.equal(a.state, "aborted");
  assert.match(a.workflowStatus, /^(COMPLETED|CANCELL?ED)$/);
  assert.equal(a.reason, "aborted by operator: endpoint retired");
  const text = await cli(["campaign", "status", `campaign-${campaignId}`]);
  assert.match(text.stdout, /: ABORTED, iteration 1\/1\nreason: aborted by operator: endpoint retired$/m);

  // Temporal down: PostgreSQL alone still answers, and says what it could not read.
  const down = await cli(["campaign", "status", campaignId], { TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` });
  assert.equal(down.status, 0, down.stderr);
  assert.match(down.stdout, /: ABORTED, iteration 1\/1$/m);
  assert.match(down.stdout, /^note: cannot reach Temporal at 127\.0\.0\.1:\d+ \(TEMPORAL_ADDRESS\): connection refused: PostgreSQL's records only$/m);
});

test("a failed campaign shows failed with the stage's real message, never the child workflow wrapper", async () => {
  const failing = await startSimulator({ seed: 12, latencyMs: 5, maxConcurrency: 4, quiet: true });
  const campaignId = `st-fail-${Date.now().toString(36)}`;
  const workers = await env.startWorkers();
  try {
    failing.setFaults({ rate500: 1 });
    const handle = await start(simulatorCampaign(failing.url, { count: 20, batchSize: 10, onStageFailure: "fail" }), campaignId);
    await waitFor("the campaign to fail", async () => (await handle.describe()).status.name === "FAILED", 120_000);
  } finally {
    await workers.stop();
    await failing.close();
  }
  const r = await cli(["campaign", "status", campaignId]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /: FAILED, iteration 1\/1$/m);
  assert.match(r.stdout, /^reason: stage synthesize\.singleTurn failed: .*(500|server)/im);
  assert.doesNotMatch(r.stdout, /Child Workflow execution failed/);
  assert.match(r.stdout, /^ {2}synthesize\.singleTurn +.*failed/m);
  assert.match(r.stdout, new RegExp(`toolloop campaign start --config <file> --id ${campaignId}`));
  const listed = await cli(["campaign", "list", "--json"]);
  assert.equal(listed.status, 0, `campaign list --json (exit ${listed.status}, ${listed.ms} ms): ${listed.stderr}`);
  const list = JSON.parse(listed.stdout) as { campaigns: { campaignId: string; state: string; reason?: string }[] };
  const row = list.campaigns.find((c) => c.campaignId === campaignId);
  assert.equal(row?.state, "failed");
  assert.match(row?.reason ?? "", /^stage synthesize\.singleTurn failed: /);
});

test("a terminated campaign says so with the reason, even one PostgreSQL never saw (no worker ever ran it)", async () => {
  const campaignId = `st-term-${Date.now().toString(36)}`;
  const handle = await start(simulatorCampaign(sim.url), campaignId);
  await handle.terminate("replaced by the weekly schedule");
  const r = await cli(["campaign", "status", campaignId]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^campaign ${campaignId}: TERMINATED\\nreason: terminated: replaced by the weekly schedule$`, "m"));
  assert.match(r.stdout, /^workflow: campaign-st-term-\S+ TERMINATED {2}http/m);
  // By workflow id too, with the campaign id shown.
  const byWorkflowId = await cli(["campaign", "status", `campaign-${campaignId}`, "--json"]);
  assert.equal((JSON.parse(byWorkflowId.stdout) as { campaignId: string }).campaignId, campaignId);
});

test("status --watch follows a campaign to its end: each new state once, exit 0 when it completed, 1 when it did not", async () => {
  const campaignId = `st-watch-${Date.now().toString(36)}`;
  const workers = await env.startWorkers();
  try {
    await start(simulatorCampaign(sim.url, { count: 20, batchSize: 10 }), campaignId);
    const r = await cli(["campaign", "status", campaignId, "--watch", "--interval", "0.5"]);
    assert.equal(r.status, 0, r.stderr);
    const headers = r.stdout.split("\n").filter((l) => l.startsWith(`campaign ${campaignId}`));
    assert.match(headers.at(-1) ?? "", /: COMPLETED, iteration 1\/1$/);
    assert.match(r.stdout, /^ {2}export\.dataset +20\/20 \(100%\) {2}succeeded in \d+s$/m);
    // The campaign report's path is printed once the file exists (the iteration's end writes it).
    const v = JSON.parse((await cli(["campaign", "status", campaignId, "--json"])).stdout) as { outputDir?: string; reportPath?: string };
    assert.equal(v.outputDir, path.join(env.workDir, ".toolloop/output", campaignId));
    assert.equal(v.reportPath, path.join(v.outputDir, "report.html"));
    assert.ok(fs.existsSync(v.reportPath), "finishIteration wrote the campaign report");
    const withReport = await cli(["campaign", "status", campaignId]);
    assert.match(withReport.stdout, new RegExp(`^report: ${path.join(v.outputDir, "report.html").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
  } finally {
    await workers.stop();
  }
  const term = `st-watch-t-${Date.now().toString(36)}`;
  await (await start(simulatorCampaign(sim.url), term)).terminate("stop");
  const t = await cli(["campaign", "status", term, "--watch"]);
  assert.equal(t.status, 1);
  assert.match(t.stdout, /: TERMINATED\nreason: terminated: stop$/m);
});

test("an unknown id: a clear error naming both sources, exit 2, no stack trace", async () => {
  const r = await cli(["campaign", "status", "no-such-campaign"]);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /^error: no such campaign: no-such-campaign; PostgreSQL \(.*\) has no campaign "no-such-campaign" and Temporal \(.*, namespace default\) has no workflow campaign-no-such-campaign; `toolloop campaign list` shows the campaigns\n$/,
  );
  assert.doesNotMatch(r.stderr, NO_STACK);
  const bad = await cli(["campaign", "list", "--limit", "0"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^error: --limit: expected an integer from 1 to 1000, got "0"\n$/);
});

test("PostgreSQL unreachable or refusing: status falls back to Temporal with a note (exit 0); list needs it (exit 1); both down names both", async () => {
  const campaignId = `st-nodb-${Date.now().toString(36)}`;
  const handle = await start(simulatorCampaign(sim.url), campaignId);
  try {
    const pgPort = await closedPort();
    const refused = await cli(["campaign", "status", campaignId], { DATABASE_URL: `postgres://postgres:s3cret@127.0.0.1:${pgPort}/toolloop` });
    assert.equal(refused.status, 0, refused.stderr);
    assert.match(refused.stdout, new RegExp(`^campaign ${campaignId}: RUNNING$`, "m"));
    assert.match(refused.stdout, new RegExp(`^workflow: campaign-${campaignId} RUNNING `, "m"));
    assert.match(
      refused.stdout,
      new RegExp(`^note: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${pgPort}/toolloop \\(DATABASE_URL\\): connection refused: Temporal's records only$`, "m"),
    );
    assert.doesNotMatch(refused.stdout + refused.stderr, /s3cret/);
    const json = JSON.parse(
      (await cli(["campaign", "status", campaignId, "--json"], { DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/toolloop` })).stdout,
    ) as {
      state: string;
      notes: string[];
    };
    assert.equal(json.state, "running");
    assert.ok(
      json.notes.some((n) => n.startsWith("cannot reach PostgreSQL")),
      json.notes.join("\n"),
    );

    // A server that answers but refuses (here: no such database) is a missing source too.
    const url = new URL(env.databaseUrl);
    url.pathname = "/no_such_database";
    const refusing = await cli(["campaign", "status", campaignId], { DATABASE_URL: url.toString() });
    assert.equal(refusing.status, 0, refusing.stderr);
    assert.match(
      refusing.stdout,
      /^note: cannot reach PostgreSQL at .*\/no_such_database \(DATABASE_URL\): the database does not exist: Temporal's records only$/m,
    );

    // A port that accepts and never answers: the connect timeout, not a hang.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const silentPort = (silent.address() as net.AddressInfo).port;
      const mute = await cli(["campaign", "status", campaignId], { DATABASE_URL: `postgres://postgres@127.0.0.1:${silentPort}/toolloop` });
      assert.equal(mute.status, 0, mute.stderr);
      assert.match(
        mute.stdout,
        new RegExp(
          `^note: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${silentPort}/toolloop \\(DATABASE_URL\\): no answer within 5s: Temporal's records only$`,
          "m",
        ),
      );
    } finally {
      silent.close();
    }

    // `campaign list` reads the campaigns from PostgreSQL: without it, the environment error.
    const list = await cli(["campaign", "list"], { DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/toolloop` });
    assert.equal(list.status, 1);
    assert.equal(
      list.stderr,
      `error: cannot reach PostgreSQL at 127.0.0.1:${pgPort}/toolloop (DATABASE_URL): connection refused; start it with \`node dist/src/services/main.js up\` or set DATABASE_URL\n`,
    );

    const tPort = await closedPort();
    const both = await cli(["campaign", "status", campaignId], {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/toolloop`,
      TEMPORAL_ADDRESS: `127.0.0.1:${tPort}`,
    });
    assert.equal(both.status, 1);
    assert.equal(both.stdout, "");
    assert.match(
      both.stderr,
      new RegExp(
        `^error: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${pgPort}/toolloop \\(DATABASE_URL\\): connection refused; and cannot reach Temporal at 127\\.0\\.0\\.1:${tPort} \\(TEMPORAL_ADDRESS\\): connection refused; start them with .* or set DATABASE_URL and TEMPORAL_ADDRESS\\n$`,
      ),
    );
  } finally {
    await handle.terminate("test done");
  }
});

test("paused: the running stage shows its rate and 'paused', no ETA; aborted mid-stage: the stage shows stopped in status, --json and list", async () => {
  const campaignId = `st-stop-${Date.now().toString(36)}`;
  const config = oneBatchAtATime();
  const workers = await env.startWorkers();
  try {
    const handle = await start(config, campaignId);
    await waitFor("two finished batches", async () => (await batchesDone(campaignId)) >= 2, 120_000);
    // Resuming a campaign that runs would change nothing: said so, and nothing is sent.
    const resumeRunning = await cli(["campaign", "resume", campaignId]);
    assert.equal(resumeRunning.status, 0, resumeRunning.stderr);
    assert.equal(resumeRunning.stdout, `resume: campaign ${campaignId} is not paused (it is running); nothing sent\n`);
    const pause = await cli(["campaign", "pause", campaignId]);
    assert.equal(pause.status, 0, pause.stderr);
    assert.match(pause.stdout, new RegExp(`^pause: sent to ${campaignWorkflowId(campaignId)}$`, "m"));
    const paused = await waitFor("status to say paused", async () => {
      const r = await cli(["campaign", "status", campaignId]);
      return /: PAUSED, iteration 1\/1$/m.test(r.stdout) ? r : undefined;
    });
    const pauseAgain = await cli(["campaign", "pause", campaignId]);
    assert.equal(pauseAgain.status, 0, pauseAgain.stderr);
    assert.equal(
      pauseAgain.stdout,
      `pause: campaign ${campaignId} is already paused; nothing sent (\`toolloop campaign resume ${campaignId}\` continues it)\n`,
    );
    const operatorSignals = ((await handle.fetchHistory()).events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)
      .filter((name) => name === "pause" || name === "resume");
    assert.deepEqual(operatorSignals, ["pause"], "only the pause that changed something was sent");
    assert.match(paused.stdout, /^ {2}synthesize\.singleTurn {2}\d+\/200 \(\d+%\) {2}[\d.]+ items\/s {2}paused$/m);
    assert.doesNotMatch(paused.stdout, /ETA/);

    const abort = await cli(["campaign", "abort", campaignId, "--reason", "x"]);
    assert.equal(abort.status, 0, abort.stderr);
    await waitFor("the campaign to close", async () => (await handle.describe()).status.name !== "RUNNING", 60_000);
  } finally {
    await workers.stop();
  }
  assert.equal(await stageStatus(campaignId, "synthesize.singleTurn"), "running", "the abort leaves the stage row as it was");
  const text = await cli(["campaign", "status", campaignId]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /: ABORTED, iteration 1\/1\nreason: aborted by operator: x$/m);
  assert.match(text.stdout, /^ {2}synthesize\.singleTurn {2}\d+\/200 \(\d+%\) {2}stopped$/m);
  assert.doesNotMatch(text.stdout, /items\/s|ETA/);
  const json = JSON.parse((await cli(["campaign", "status", campaignId, "--json"])).stdout) as {
    stages: { status: string; itemsDone: number; progress: Record<string, unknown> }[];
  };
  assert.equal(json.stages[0]?.status, "stopped");
  // The stopped stage counts every slot its batches stored (a sample or an outcome each), finished batches or not.
  const settled = await settledSlotsOf(campaignId);
  assert.ok(settled > 0, "the batches stored slots before the abort");
  assert.equal(json.stages[0]?.itemsDone, Math.min(200, settled));
  assert.match(text.stdout, new RegExp(`^ {2}synthesize\\.singleTurn {2}${Math.min(200, settled)}/200 `, "m"));
  assert.equal(json.stages[0]?.progress.ratePerSec, undefined);
  assert.equal(json.stages[0]?.progress.etaSeconds, undefined);
  const list = await cli(["campaign", "list", "--limit", "50"]);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${campaignId} +test +aborted +1/1 +synthesize\\.singleTurn \\(stopped\\) `, "m"));
});

test("list shows a campaign started while no worker runs, from Temporal with the not-registered note; once a worker registers it, one row", async () => {
  const campaignId = `st-unreg-${Date.now().toString(36)}`;
  const configPath = path.join(env.workDir, `${campaignId}.json`);
  fs.writeFileSync(configPath, JSON.stringify(simulatorCampaign(sim.url, { count: 20, batchSize: 10 })));
  // This file's task queues: list reads the campaign workflows on this deployment's queue only.
  const deployed = (args: string[]) => runCli(args, cliEnvOf(env));
  const started = await deployed(["campaign", "start", "--config", configPath, "--id", campaignId]);
  assert.equal(started.status, 0, started.stderr);
  const handle = env.client.workflow.getHandle(campaignWorkflowId(campaignId));
  let workers: Awaited<ReturnType<TestEnv["startWorkers"]>> | undefined;
  try {
    const rowsOf = (text: string) => text.split("\n").filter((l) => l.startsWith(`${campaignId} `));
    const listed = await deployed(["campaign", "list", "--limit", "50"]);
    assert.equal(listed.status, 0, `campaign list (exit ${listed.status}, ${listed.ms} ms): ${listed.stderr}`);
    assert.deepEqual(rowsOf(listed.stdout).length, 1, listed.stdout);
    const note = NOT_REGISTERED_NOTE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match(listed.stdout, new RegExp(`^${campaignId} +- +running +1 +- +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ {2}${note}$`, "m"));
    assert.doesNotMatch(listed.stdout, /^note: /m);

    const json = await deployed(["campaign", "list", "--json", "--limit", "50"]);
    assert.equal(json.status, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { campaigns: CampaignListEntry[]; notes: string[] };
    assert.deepEqual(parsed.notes, []);
    const mine = parsed.campaigns.filter((c) => c.campaignId === campaignId);
    assert.equal(mine.length, 1);
    assert.deepEqual(
      { ...mine[0], createdAt: undefined, updatedAt: undefined },
      {
        campaignId,
        name: "",
        status: "",
        registered: false,
        note: NOT_REGISTERED_NOTE,
        workflowId: `campaign-${campaignId}`,
        createdAt: undefined,
        updatedAt: undefined,
        iteration: 1,
        state: "running",
        workflowStatus: "RUNNING",
      },
    );
    // --limit holds with the rows Temporal adds.
    const one = JSON.parse((await deployed(["campaign", "list", "--json", "--limit", "1"])).stdout) as { campaigns: unknown[] };
    assert.equal(one.campaigns.length, 1);

    // A worker runs it: registration records the campaign, and the list shows PostgreSQL's row once.
    workers = await env.startWorkers();
    await waitFor("the campaign's registration", async () => (await env.db.db.select().from(campaigns).where(eq(campaigns.id, campaignId))).length > 0);
    const once = await deployed(["campaign", "list", "--json", "--limit", "50"]);
    assert.equal(once.status, 0, once.stderr);
    const rows = (JSON.parse(once.stdout) as { campaigns: CampaignListEntry[] }).campaigns.filter((c) => c.campaignId === campaignId);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]?.registered, true);
    assert.equal(rows[0]?.name, "test");
    assert.equal(rows[0]?.note, undefined);
    const text = await deployed(["campaign", "list", "--limit", "50"]);
    assert.equal(rowsOf(text.stdout).length, 1, text.stdout);
    assert.match(text.stdout, new RegExp(`^${campaignId} +test +`, "m"));
    assert.doesNotMatch(rowsOf(text.stdout)[0] ?? "", /not registered/);
  } finally {
    await handle.terminate("test done").catch(() => undefined);
    await workers?.stop();
  }
});

test("pause and abort of a campaign no worker has run yet: sent, with a note that they wait for a worker and how to end it without one; status says so; retry/skip-stage refused at once", async (t) => {
  const campaignId = `st-noworker-${Date.now().toString(36)}`;
  const handle = await start(simulatorCampaign(sim.url, { count: 20, batchSize: 10 }), campaignId);
  const workflowId = campaignWorkflowId(campaignId);
  try {
    const note = (out: string) => out.split("\n").find((l) => l.startsWith("note: no worker has run this campaign yet"));
    const paused = await cli(["campaign", "pause", campaignId]);
    assert.equal(paused.status, 0, paused.stderr);
    assert.match(paused.stdout, new RegExp(`^pause: sent to ${workflowId}$`, "m"));
    assert.ok(note(paused.stdout), paused.stdout);

    const abort = await cli(["campaign", "abort", campaignId, "--reason", "wrong endpoint"]);
    assert.equal(abort.status, 0, abort.stderr);
    const line = note(abort.stdout) ?? "";
    // Whether a poller shows depends on the workers earlier tests of this file stopped (Temporal keeps them a few minutes).
    assert.match(
      line,
      /^note: no worker has run this campaign yet \((no worker has polled|a worker polled) task queue t-status-\S+-workflows (recently|in the last minutes)\): /,
    );
    assert.ok(line.endsWith(`to end it now without a worker: temporal workflow terminate --workflow-id ${workflowId} --reason "<why>"`), line);
    assert.equal((await handle.describe()).status.name, "RUNNING");

    const status = await cli(["campaign", "status", campaignId, "--json"]);
    assert.equal(status.status, 0, status.stderr);
    const v = JSON.parse(status.stdout) as { state: string; reason: string; notes: string[]; nextCommands: { command: string }[] };
    assert.equal(v.state, "running");
    assert.equal(v.reason, "abort requested (aborted by operator: wrong endpoint); no worker has run the campaign yet, so it ends when one picks it up");
    // Being aborted: pausing it is no next step.
    assert.deepEqual(
      v.nextCommands.map((n) => n.command),
      [`toolloop campaign status ${campaignId} --watch`],
    );
    assert.ok(
      v.notes.some((n) => n.startsWith("no worker has run this campaign yet")),
      JSON.stringify(v.notes),
    );
    // One note, not also the generic "no worker has polled" one.
    assert.ok(!v.notes.some((n) => n.startsWith("no worker has polled")), JSON.stringify(v.notes));

    // retry-stage and skip-stage need a worker to answer: refused at once, not after Temporal's 30 s deadline.
    for (const verb of ["retry-stage", "skip-stage"]) {
      const r = await cli(["campaign", verb, campaignId]);
      assert.equal(r.status, 1, `${verb}: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`^error: ${verb}: no stage of campaign ${campaignId} waits for an operator: no worker has run this campaign yet `, "m"),
      );
      assert.doesNotMatch(r.stderr, NO_STACK);
      await assertPrompt(r, verb, t);
    }

    // What the note says ends it without a worker does.
    await handle.terminate("wrong endpoint");
    const ended = await cli(["campaign", "status", campaignId]);
    assert.match(ended.stdout, new RegExp(`^campaign ${campaignId}: TERMINATED\\nreason: terminated: wrong endpoint$`, "m"));
  } finally {
    await handle.terminate("test done").catch(() => undefined);
  }
});

test("start --wait with no worker says once that the campaign waits for one (no status query hanging), then follows it once a worker runs it", async () => {
  const campaignId = `st-wait-${Date.now().toString(36)}`;
  const configPath = path.join(env.workDir, `${campaignId}.json`);
  fs.writeFileSync(configPath, JSON.stringify(simulatorCampaign(sim.url, { count: 20, batchSize: 10 })));
  const waiting = runCliUntil(
    ["campaign", "start", "--config", configPath, "--id", campaignId, "--wait"],
    cliEnvOf(env),
    180_000,
    /^\(waiting: no worker has run this campaign yet \(/m,
  );
  let workers: Awaited<ReturnType<TestEnv["startWorkers"]>> | undefined;
  try {
    // A worker starts only once --wait has said (after the 5 s it gives one) that none has taken the campaign.
    await waiting.seen;
    workers = await env.startWorkers();
    const r = await waiting.done;
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const lines = r.stdout.split("\n");
    const waits = lines.filter((l) => l.startsWith("(waiting: no worker has run this campaign yet ("));
    assert.equal(waits.length, 1, r.stdout);
    assert.ok(waits[0]?.includes(`temporal workflow terminate --workflow-id ${campaignWorkflowId(campaignId)}`), waits[0]);
    const at = lines.indexOf(waits[0] ?? "");
    assert.ok(
      lines.slice(at + 1).some((l) => l.startsWith(`campaign ${campaignId} (test): `)),
      r.stdout,
    );
    assert.doesNotMatch(r.stdout, /status unavailable/);
  } finally {
    await env.client.workflow
      .getHandle(campaignWorkflowId(campaignId))
      .terminate("test done")
      .catch(() => undefined);
    await workers?.stop();
  }
});

test("start --wait into a log (stdout not a terminal) prints what changed on each refresh: an iteration's done: line once, not on every refresh after it", async () => {
  const campaignId = `st-wait-log-${Date.now().toString(36)}`;
  const configPath = path.join(env.workDir, `${campaignId}.json`);
  // Two iterations: the first one's done: line is in every view of the second.
  fs.writeFileSync(configPath, JSON.stringify(simulatorCampaign(sim.url, { count: 40, batchSize: 10, iterations: 2, concurrency: { batchesInParallel: 1 } })));
  const workers = await env.startWorkers();
  try {
    const r = await runCli(["campaign", "start", "--config", configPath, "--id", campaignId, "--wait"], cliEnvOf(env), 240_000);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const lines = r.stdout.split("\n");
    const doneFirst = lines.filter((l) => l.startsWith("  done: iteration 1 completed"));
    assert.equal(doneFirst.length, 1, r.stdout);
    const at = lines.indexOf(doneFirst[0] ?? "");
    // The second iteration was followed after it: its stages' progress, each change once.
    const later = lines.slice(at + 1).filter((l) => /^ {2}synthesize\.singleTurn /.test(l));
    assert.ok(later.length > 0, r.stdout);
    assert.equal(new Set(later).size, later.length, `a stage line repeated unchanged:\n${r.stdout}`);
    assert.ok(lines.filter((l) => l.startsWith("  done: iteration 2 completed")).length <= 1, r.stdout);
  } finally {
    await env.client.workflow
      .getHandle(campaignWorkflowId(campaignId))
      .terminate("test done")
      .catch(() => undefined);
    await workers.stop();
  }
});

test("start --wait on a campaign terminated before any worker ran it ends at once with the reason (no status query left to time out)", async () => {
  const campaignId = `st-wait-term-${Date.now().toString(36)}`;
  const configPath = path.join(env.workDir, `${campaignId}.json`);
  fs.writeFileSync(configPath, JSON.stringify(simulatorCampaign(sim.url, { count: 20, batchSize: 10 })));
  const waiting = runCli(["campaign", "start", "--config", configPath, "--id", campaignId, "--wait"], cliEnvOf(env), 120_000);
  const handle = env.client.workflow.getHandle(campaignWorkflowId(campaignId));
  await waitFor("the campaign to start", async () => (await handle.describe().catch(() => undefined)) !== undefined);
  await handle.terminate("started on the wrong queue");
  const terminatedAt = Date.now();
  const r = await waiting;
  assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error: campaign workflow ${campaignWorkflowId(campaignId)} ended TERMINATED: started on the wrong queue$`, "m"));
  assert.doesNotMatch(r.stdout, /status unavailable/);
  // A status query of the closed workflow would wait ~30 s for a worker.
  assert.ok(Date.now() - terminatedAt < 15_000, `--wait took ${Date.now() - terminatedAt} ms after the terminate`);
});

test("list: Temporal failing to list the campaign workflows is a note, not a failure", async () => {
  // A namespace Temporal does not have: the connection succeeds, every call on it fails.
  const r = await runCli(["campaign", "list", "--json", "--limit", "5"], { ...cliEnvOf(env), TEMPORAL_NAMESPACE: `no-such-ns-${Date.now().toString(36)}` });
  assert.equal(r.status, 0, r.stderr);
  const parsed = JSON.parse(r.stdout) as { campaigns: CampaignListEntry[]; notes: string[] };
  assert.ok(parsed.campaigns.length <= 5);
  assert.ok(
    parsed.notes.some((n) => /could not list the campaign workflows on t-status-\S+-workflows: .*; campaigns no worker has run are not shown$/.test(n)),
    parsed.notes.join("\n"),
  );
  assert.ok(parsed.campaigns.every((c) => c.registered));
});

test("a campaign PostgreSQL records as running that Temporal has no workflow for: NO WORKFLOW with the reason and how to start it again, --watch ends at once, list says so", async () => {
  // Temporal's state lost (a dev server restarted without its database file): the row stays, the workflow is gone.
  const campaignId = `lost-${Date.now().toString(36)}`;
  await env.db.db.insert(campaigns).values({ id: campaignId, name: "lost", config: {}, status: "running", workflowId: campaignWorkflowId(campaignId) });
  const r = await cli(["campaign", "status", campaignId]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^campaign ${campaignId} \\(lost\\): NO WORKFLOW`));
  assert.match(
    r.stdout,
    new RegExp(
      `reason: PostgreSQL records the campaign as running, but Temporal \\(namespace ${env.namespace}\\) has no workflow campaign-${campaignId}: nothing runs it`,
    ),
  );
  assert.match(r.stdout, new RegExp(`toolloop campaign start --config <file> --id ${campaignId} +# run it again`));
  assert.doesNotMatch(r.stdout, /campaign pause|--watch +#/);

  const watched = await cli(["campaign", "status", campaignId, "--watch", "--interval", "1"]);
  assert.equal(watched.status, 1, "nothing runs it: --watch ends at once, not successfully");

  const list = await cli(["campaign", "list", "--json", "--limit", "1000"]);
  assert.equal(list.status, 0, list.stderr);
  const entry = (JSON.parse(list.stdout) as { campaigns: CampaignListEntry[] }).campaigns.find((c) => c.campaignId === campaignId);
  assert.equal(entry?.state, "no_workflow");
  assert.match(entry?.reason ?? "", /has no workflow/);
});

/** The heartbeat of the iteration's running synthesis batch, read here straight from Temporal's description. */
/** The slots synthesize.singleTurn has stored in the campaign (a sample or an outcome each), finished batches or not. */
async function settledSlotsOf(campaignId: string): Promise<number> {
  const stored = await env.db.db.execute<{ n: number }>(
    sql`select (select count(*) from samples where campaign_id = ${campaignId} and stage = 'synthesize.singleTurn' and slot_key is not null)
      + (select count(*) from stage_slot_outcomes where campaign_id = ${campaignId} and stage = 'synthesize.singleTurn') as n`,
  );
  return Number((stored as unknown as { rows: { n: number }[] }).rows[0]?.n);
}

async function heartbeatSettled(campaignId: string): Promise<number | undefined> {
  const desc = await env.client.workflow.getHandle(iterationWorkflowId(campaignWorkflowId(campaignId), 1)).describe();
  const a = (desc.raw.pendingActivities ?? []).find((p) => p.activityType?.name === "runStageBatch");
  const payload = a?.heartbeatDetails?.payloads?.[0];
  if (!payload) return undefined;
  return (defaultPayloadConverter.fromPayload(payload) as { settled?: number }).settled;
}

test("one batch of 800 still running: status, --json and start --wait count its settled items (its heartbeat), with a rate and ETA; done, it counts 800 once", async (t) => {
  const campaignId = `st-inflight-${Date.now().toString(36)}`;
  const count = 800;
  const config = simulatorCampaign(sim.url, { count, batchSize: count, stages: [{ name: "synthesize.singleTurn", count, batchSize: count }] });
  const workers = await env.startWorkers();
  try {
    const handle = await start(config, campaignId);
    // start --wait's loop, in process, alongside.
    const followed: string[] = [];
    const following = follow(env.client, handle.workflowId, 500, (s) => followed.push(s));
    /** The running stage's items in each refresh --wait printed. */
    const midCounts = () =>
      followed
        .map((f) => /synthesize\.singleTurn\s+running\s+\[[#-]+\]\s+\d+% (\d+)\/800/.exec(f)?.[1])
        .filter((n) => n !== undefined)
        .map(Number);

    const before = await waitFor(
      "the batch's heartbeat to report 100 settled slots",
      async () => {
        const n = await heartbeatSettled(campaignId);
        return n !== undefined && n >= 100 ? n : undefined;
      },
      120_000,
    );
    assert.equal(await batchesDone(campaignId), 0, "no stage_batches row yet: finished batches alone would read 0/800");
    const json = JSON.parse((await cli(["campaign", "status", campaignId, "--json"])).stdout) as {
      stages: {
        name: string;
        itemsDone: number;
        batchesDone: number;
        inFlight?: { batches: number; items: number; running: boolean };
        progress: { done: number; total: number; ratePerSec: number; etaSeconds: number };
      }[];
    };
    const text = await cli(["campaign", "status", campaignId]);
    const after = (await heartbeatSettled(campaignId)) ?? count;
    const s = json.stages[0];
    t.diagnostic(`heartbeat ${before}..${after}; status ${JSON.stringify(s?.progress)}`);
    assert.equal(s?.name, "synthesize.singleTurn");
    assert.equal(s.batchesDone, 0);
    assert.ok(s.itemsDone >= before && s.itemsDone <= after, `itemsDone ${s.itemsDone}, heartbeat ${before}..${after}`);
    assert.deepEqual(s.inFlight, { batches: 1, items: s.itemsDone, running: true });
    assert.equal(s.progress.done, s.itemsDone);
    assert.equal(s.progress.total, count);
    // A stage younger than the rate window: its items over its age, and the ETA for what is left at that rate.
    assert.ok(s.progress.ratePerSec > 0, JSON.stringify(s.progress));
    assert.ok(Math.abs(s.progress.etaSeconds - (count - s.itemsDone) / s.progress.ratePerSec) < 1e-6, JSON.stringify(s.progress));
    assert.equal(text.status, 0, text.stderr);
    const line = /^ {2}synthesize\.singleTurn {2}(\d+)\/800 \(\d+%\) {2}[\d.]+ items\/s {2}ETA (\d+[dhm])?\d+[smh]$/m.exec(text.stdout);
    assert.ok(line, text.stdout);
    assert.ok(Number(line[1]) >= before && Number(line[1]) <= after, `${line[1]} not within ${before}..${after}`);

    // What is asserted mid-batch has been read (--wait's view of it too): the rest of the 800 need not
    // take SIM_LATENCY_MS a call (about 30 s more), only to end in the counts checked below.
    await waitFor("--wait to show the running batch's items", async () => midCounts().some((n) => n > 0 && n < count), 60_000);
    sim.setLatency(0);
    await following;
    // --wait showed the running batch's items before the batch finished.
    const mid = midCounts();
    assert.ok(
      mid.some((n) => n > 0 && n < count),
      followed.join("\n---\n"),
    );
    t.diagnostic(`--wait read ${mid.join(", ")}`);
    for (let i = 1; i < mid.length; i++) assert.ok((mid[i] as number) >= (mid[i - 1] as number), `--wait went backwards: ${mid.join(", ")}`);
  } finally {
    sim.setLatency(SIM_LATENCY_MS);
    await workers.stop();
  }
  // Finished: its row counts the 800, no heartbeat adds to them.
  const done = JSON.parse((await cli(["campaign", "status", campaignId, "--json"])).stdout) as {
    state: string;
    stages: { itemsDone: number; inFlight?: unknown }[];
  };
  assert.equal(done.state, "completed");
  assert.equal(done.stages[0]?.itemsDone, count);
  assert.equal(done.stages[0]?.inFlight, undefined);
});
