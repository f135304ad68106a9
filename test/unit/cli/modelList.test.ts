/**
 * `model list`'s lines for served versions: SERVING (the launcher says it runs), SERVING? with a note
 * naming the launcher and the reason when it could not be asked, `exited <state>` with the exit code
 * or message the launcher gave, and `stopped <time>`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatModelVersions, type ListedVersion } from "../../../src/cli/model.js";

const served = (iteration: number, extra: Partial<ListedVersion>): ListedVersion => ({
  id: `c:${iteration}:served`,
  campaignId: "c",
  iteration,
  kind: "served",
  parentId: `c:${iteration}:merged`,
  baseModel: "base",
  path: null,
  url: `http://127.0.0.1:${8000 + iteration}/v1`,
  servedModel: `c-iter-${iteration}`,
  jobName: `c-serve-${iteration}`,
  dataset: null,
  simulated: false,
  details: null,
  createdAt: new Date("2026-01-01T00:00:00Z"),
  stoppedAt: null,
  ...extra,
});

const server = (iteration: number, s: { state: string; exitCode?: number; message?: string }) => ({
  server: { job: `c-serve-${iteration}`, launcher: "local", ...s },
});

test("formatModelVersions: each served state, with the launcher's word", () => {
  const lines = formatModelVersions([
    served(1, { serving: "stopped", stoppedAt: new Date("2026-01-02T03:04:05Z"), ...server(1, { state: "cancelled", message: "cancelled" }) }),
    served(2, { serving: "ended", stoppedAt: new Date(), ...server(2, { state: "failed", exitCode: 137, message: "exited with code 137" }) }),
    served(3, { serving: "ended", ...server(3, { state: "failed", exitCode: 1, message: "Job entrypoint command failed" }) }),
    served(4, { serving: "ended", ...server(4, { state: "lost", message: "the slurm scheduler no longer knows it" }) }),
    served(5, { serving: "ended", ...server(5, { state: "succeeded", exitCode: 0 }) }),
    served(6, {
      serving: "unconfirmed",
      servingNote: "could not ask the ray launcher whether c-serve-6 still runs (ECONNREFUSED); PostgreSQL last recorded it running",
      ...server(6, { state: "running" }),
    }),
    served(7, { serving: "serving", ...server(7, { state: "running" }) }),
  ]);
  assert.equal(lines.length, 7);
  assert.equal(lines[0]!.split("\n")[0], "iteration 1 served     http://127.0.0.1:8001/v1 (c-iter-1)  stopped 2026-01-02T03:04:05.000Z");
  assert.equal(lines[1]!.split("\n")[0], "iteration 2 served     http://127.0.0.1:8002/v1 (c-iter-2)  exited failed (exited with code 137)");
  assert.equal(lines[2]!.split("\n")[0], "iteration 3 served     http://127.0.0.1:8003/v1 (c-iter-3)  exited failed (exit 1: Job entrypoint command failed)");
  assert.equal(lines[3]!.split("\n")[0], "iteration 4 served     http://127.0.0.1:8004/v1 (c-iter-4)  exited lost (the slurm scheduler no longer knows it)");
  assert.equal(lines[4]!.split("\n")[0], "iteration 5 served     http://127.0.0.1:8005/v1 (c-iter-5)  exited succeeded (exit 0)");
  assert.deepEqual(lines[5]!.split("\n"), [
    "iteration 6 served     http://127.0.0.1:8006/v1 (c-iter-6)  SERVING?",
    "    id c:6:served  from c:6:merged  job c-serve-6",
    "    note: could not ask the ray launcher whether c-serve-6 still runs (ECONNREFUSED); PostgreSQL last recorded it running",
  ]);
  assert.deepEqual(lines[6]!.split("\n"), [
    "iteration 7 served     http://127.0.0.1:8007/v1 (c-iter-7)  SERVING",
    "    id c:7:served  from c:7:merged  job c-serve-7",
  ]);
  // No note line and no state for versions that are not served.
  const merged = formatModelVersions([{ ...served(1, {}), kind: "merged", id: "c:1:merged", url: null, path: "/m", parentId: null }]);
  assert.deepEqual(merged[0]!.split("\n"), ["iteration 1 merged     /m", "    id c:1:merged  from base base  job c-serve-1"]);
});

test("formatModelVersions: a version whose checkpoints were deleted after the merge says which, when and how much", () => {
  const checkpoint: ListedVersion = {
    ...served(2, {}),
    id: "c:2:checkpoint",
    kind: "checkpoint",
    url: null,
    servedModel: null,
    path: "/o/c/iter-2/train/grpo/checkpoints/global_step_36/actor",
    parentId: "c:2:sft",
    jobName: "c-grpo-2",
    simulated: true,
    details: {
      step: 36,
      checkpointsDeleted: {
        dir: "/o/c/iter-2/train/grpo/checkpoints",
        steps: [32, 36],
        bytes: 2.5 * 1024 ** 4,
        at: "2026-12-06T15:00:00.000Z",
        mergedModel: "/o/c/iter-2/train/merged",
      },
    },
  };
  assert.deepEqual(formatModelVersions([checkpoint])[0]!.split("\n"), [
    "iteration 2 checkpoint /o/c/iter-2/train/grpo/checkpoints/global_step_36/actor  [SIMULATED]",
    "    id c:2:checkpoint  from c:2:sft  job c-grpo-2",
    "    checkpoints deleted 2026-12-06T15:00:00.000Z after the merge into /o/c/iter-2/train/merged: global_step_32, global_step_36, 2.5 TiB freed",
  ]);
});
