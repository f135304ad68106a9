/**
 * A train stage's local job over its memPerNode fails the stage with the launcher's OUT_OF_MEMORY
 * message (resources.memPerNode, the limit, the peak seen) and the end of its log, where job failures
 * surface (the stage's error, the job's row). The job is a real local one; the database is PGlite.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createClusterJobActivities, type WatchStageJobResult } from "../../activities/clusterJobs.js";
import { recordJobIntent, recordJobSubmitted } from "../../src/db/repos/clusterJobs.js";
import type { ClusterJobHandler } from "../../src/framework/clusterJob.js";
import type { StageContext } from "../../src/framework/stage.js";
import type { JobRequest } from "../../src/training/launchers/launcher.js";
import { LocalLauncher } from "../../src/training/launchers/local.js";
import { pgliteForTest } from "../helpers/pgliteForTest.js";

test(
  "a local training job over its memPerNode fails its stage with OUT_OF_MEMORY naming resources.memPerNode, in the stage's error and its log tail",
  { timeout: 60_000 },
  async (t) => {
    const { db, dir } = await pgliteForTest(t, "local-oom");
    const launcher = new LocalLauncher({ kind: "local", stateDir: path.join(dir, "jobs") }, { log: () => undefined, memoryPollMs: 100 });
    const ref = { campaignId: "camp-1", iteration: 1, stage: "train.grpo", attempt: 1 };
    const name = "tl-job-local-oom";
    const request: JobRequest = {
      name,
      command: ["python3", "-c", "import time; b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(3)"],
      env: {},
      workDir: path.join(dir, "work"),
      resources: { nodes: 1, gpusPerNode: 0, memPerNode: "64M" },
    };
    await recordJobIntent(db.db, { ...ref, name, launcher: "local", request });
    const { ref: jobRef } = await launcher.submit(request);
    t.after(() => launcher.cancel(jobRef).catch(() => undefined));
    await recordJobSubmitted(db.db, name, jobRef.externalId);
    const handler = {
      kind: "clusterJob",
      name: ref.stage,
      completion: "exit",
      prepare: async () => ({ request }),
      collect: async () => ({}),
    } as ClusterJobHandler;
    const acts = createClusterJobActivities({
      getDb: async () => db.db,
      createLauncher: () => launcher,
      withStageContext: (_ref, fn) =>
        fn({ campaignId: ref.campaignId, config: { onStageFailure: "wait" } } as unknown as StageContext, handler as never, {} as never),
      log: () => undefined,
    });
    let watched: WatchStageJobResult | undefined;
    for (let i = 0; i < 20 && watched?.outcome !== "failed"; i++) {
      watched = (await new MockActivityEnvironment().run(acts.watchStageJob, { ...ref, name, windowSeconds: 3, pollSeconds: 1 })) as WatchStageJobResult;
      assert.notEqual(watched.outcome, "done", `the job ran to its end over its memory: ${JSON.stringify(watched)}`);
    }
    assert.equal(watched?.outcome, "failed");
    assert.match(
      watched?.message ?? "",
      /^local job tl-job-local-oom failed \(exit 137\): OUT_OF_MEMORY: the job's processes reached \d+\.\d MiB resident \(the peak seen\), over its resources\.memPerNode "64M" \(64\.0 MiB\)/,
    );
    assert.match(watched?.message ?? "", /--- last output ---\n(.|\n)*toolloop: OUT_OF_MEMORY: /);
    assert.ok(fs.existsSync(path.join(dir, "jobs", `${name}.oom`)));
  },
);
