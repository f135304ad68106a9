/**
 * A server past its readiness deadline, or a training job past its stall deadline, is cancelled and
 * fails its stage with what to do next. That ended "then retry the stage" (or "retry the stage to
 * resume") under every onStageFailure, though with "fail" the campaign has failed (it is started again
 * with --id) and with "skip" the stage was skipped; and raising the deadline is a change to the
 * campaign's config, which retry-stage does not read (it runs the frozen config again): that takes an
 * abort and `campaign start --config-version`. The launcher is a stand-in that reports the job running;
 * the database is PGlite.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createClusterJobActivities, type WatchStageJobResult } from "../../activities/clusterJobs.js";
import { recordJobIntent, recordJobStatus, recordJobSubmitted } from "../../src/db/repos/clusterJobs.js";
import type { ClusterJobHandler } from "../../src/framework/clusterJob.js";
import type { StageContext } from "../../src/framework/stage.js";
import type { OnStageFailure } from "../../src/framework/stageFailureAdvice.js";
import type { JobLauncher } from "../../src/training/launchers/launcher.js";
import { pgliteForTest } from "../helpers/pgliteForTest.js";

/** A scheduler whose job runs on: it answers running, prints the same line, and ends when cancelled. */
function runningJobLauncher(): JobLauncher & { cancelled: number } {
  let state: "running" | "cancelled" = "running";
  const launcher = {
    kind: "slurm" as const,
    cancelled: 0,
    find: async () => undefined,
    submit: async () => assert.fail("nothing is submitted here"),
    status: async () => ({ state }),
    logs: async () => "loading shards\n",
    cancel: async () => {
      launcher.cancelled++;
      state = "cancelled";
    },
  };
  return launcher as unknown as JobLauncher & { cancelled: number };
}

async function watchOverdue(t: TestContext, deadline: "ready" | "stall", onStageFailure: OnStageFailure): Promise<WatchStageJobResult & { cancelled: number }> {
  const { db, dir } = await pgliteForTest(t, `deadline-${deadline}-${onStageFailure}`);
  const ref = { campaignId: "camp-1", iteration: 1, stage: deadline === "ready" ? "serve.policy" : "train.grpo", attempt: 1 };
  const name = `tl-job-${deadline}-${onStageFailure}`;
  const request = { name, command: ["true"], env: {}, workDir: path.join(dir, "work"), resources: { nodes: 1, gpusPerNode: 1 } };
  const launcher = runningJobLauncher();
  await recordJobIntent(db.db, { ...ref, name, launcher: launcher.kind, request });
  await recordJobSubmitted(db.db, name, "4301");
  // Seen running, without a sign of life, for an hour: past either deadline (one minute) at the next poll.
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  await recordJobStatus(db.db, name, { state: "running", progress: { clock: { runningSince: hourAgo, advancedAt: hourAgo, output: "x" } } });
  const handler: ClusterJobHandler = {
    kind: "clusterJob",
    name: ref.stage,
    prepare: async () => ({ request }),
    collect: async () => ({}),
    ...(deadline === "ready"
      ? { completion: "ready" as const, ready: async () => false, readyTimeoutMs: () => 60_000 }
      : { completion: "exit" as const, stallTimeoutMs: () => 60_000 }),
  } as ClusterJobHandler;
  const acts = createClusterJobActivities({
    getDb: async () => db.db,
    createLauncher: () => launcher,
    withStageContext: (_ref, fn) => fn({ campaignId: ref.campaignId, config: { onStageFailure } } as unknown as StageContext, handler as never, {} as never),
    log: () => undefined,
  });
  const watched = (await new MockActivityEnvironment().run(acts.watchStageJob, { ...ref, name, windowSeconds: 5, pollSeconds: 1 })) as WatchStageJobResult;
  return { ...watched, cancelled: launcher.cancelled };
}

const CONFIG_CHANGE = {
  wait: "run `toolloop campaign abort camp-1`, then `toolloop campaign start --config <changed file> --id camp-1 --config-version` (retry-stage would run the frozen config again)",
  fail: 'start the campaign again with `toolloop campaign start --config <changed file> --id camp-1 --config-version` (onStageFailure "fail" has failed it)',
  skip: "run `toolloop campaign abort camp-1`, then `toolloop campaign start --config <changed file> --id camp-1 --config-version` (the campaign goes on with its frozen config otherwise)",
};

const AFTER_FIX = {
  wait: "then retry the stage",
  fail: 'then start the campaign again with `toolloop campaign start --config <file> --id camp-1` (onStageFailure "fail" has failed it; finished work is not redone)',
  skip: 'before a later stage or run calls it (onStageFailure "skip" has skipped this stage; it is not retried)',
};

const RESUME = {
  wait: "retry the stage to resume from its last saved checkpoint",
  fail: 'to resume from its last saved checkpoint, start the campaign again with `toolloop campaign start --config <file> --id camp-1` (onStageFailure "fail" has failed it; finished work is not redone)',
  skip: 'onStageFailure "skip" has skipped this stage; it is not retried',
};

for (const onStageFailure of ["wait", "fail", "skip"] as const) {
  test(`a server past its readiness deadline, under onStageFailure "${onStageFailure}": what to do after a fix, and after raising readyTimeoutMinutes`, async (t) => {
    const watched = await watchOverdue(t, "ready", onStageFailure);
    assert.equal(watched.outcome, "failed", JSON.stringify(watched));
    assert.equal(watched.cancelled, 1, "the job is cancelled, freeing its GPUs");
    const message = watched.message ?? "";
    assert.match(message, /past its readiness deadline of 60 s \(readyTimeoutMinutes\), and its job was cancelled/);
    assert.ok(
      message.includes(
        `Its log below says where it stopped; if it failed there, fix that, ${AFTER_FIX[onStageFailure]}; if it only needs longer to start, raise readyTimeoutMinutes, a config change: ${CONFIG_CHANGE[onStageFailure]}\n--- last output ---\nloading shards`,
      ),
      message,
    );
    if (onStageFailure !== "wait") assert.doesNotMatch(message, /retry the stage/);
  });

  test(`a training job past its stall deadline, under onStageFailure "${onStageFailure}": how it resumes, and what raising stallTimeoutMinutes takes`, async (t) => {
    const watched = await watchOverdue(t, "stall", onStageFailure);
    assert.equal(watched.outcome, "failed", JSON.stringify(watched));
    assert.equal(watched.cancelled, 1);
    const message = watched.message ?? "";
    assert.match(message, /no new step and no new output for 60 minutes, past its stall deadline of 60 s \(stallTimeoutMinutes\)/);
    assert.ok(
      message.includes(
        `Its log below says where it stopped; ${RESUME[onStageFailure]}; if its steps only take that long, raise stallTimeoutMinutes, a config change: ${CONFIG_CHANGE[onStageFailure]}\n--- last output ---`,
      ),
      message,
    );
    if (onStageFailure !== "wait") assert.doesNotMatch(message, /retry the stage/);
  });
}
