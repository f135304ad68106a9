/**
 * Replay: committed histories of every workflow replay against today's workflow code without
 * nondeterminism, histories of older code paths included (each patched() change keeps them). The
 * code is bundled fresh from the compiled workflows, never taken from a bundle file that may be
 * stale. A deliberately changed workflow must fail to replay (the negative case). Record new
 * histories with `node dist/test/replay/recordHistories.js` after a deliberate, patched() change
 * (the operator-surface path: recordOperatorHistories.js; aborts with batches in flight:
 * recordAbortHistories.js; a campaign started again while its old iteration stops:
 * recordRestartHistory.js; an abort while a campaign registers: recordRegistrationAbortHistory.js,
 * with --rerun for a campaign started again under its id).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { before, test } from "node:test";
import { DeterminismViolationError } from "@temporalio/workflow";
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from "@temporalio/worker";
import { PATCH_ABORT_WAITS, PATCH_ABORT_WAITS_FOR_REGISTRATION, PATCH_FROZEN_CONFIG, PATCH_RETRY_BY_CAUSE } from "../../workflows/activityOptions.js";
import { PATCH_LEAN_HISTORY } from "../../workflows/codePaths.js";
import { PATCH_STAGE_CHUNKS, PATCH_STAGE_SELF_RECOVERY } from "../../workflows/iteration.js";
import { PATCH_ITERATION_ID_WAIT } from "../../workflows/iterationStart.js";
import { PATCH_OPERATOR_SURFACE } from "../../workflows/operatorSurface.js";
import { PATCH_CANCEL_DURING_SUBMIT, PATCH_LOST_JOB_TYPE } from "../../workflows/stageJob.js";
import { PATCH_CLUSTER_JOB_STAGES, PATCH_JOB_ATTEMPT_FROM_DATABASE } from "../../workflows/stageRunner.js";
import { WORKFLOWS_PATH } from "../../workers/createWorkers.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.resolve(here, "../../../test/replay/histories");
const files = fs.existsSync(dir)
  ? fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".json") && f !== "index.json")
      .sort()
  : [];
/** history file -> the workflow id it was recorded under (child ids derive from it). */
const workflowIds: Record<string, string> = fs.existsSync(path.join(dir, "index.json"))
  ? JSON.parse(fs.readFileSync(path.join(dir, "index.json"), "utf8"))
  : {};
const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let current: WorkflowBundleWithSourceMap;
before(async () => {
  current = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
});

const read = (file: string) => JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { events: Record<string, unknown>[] };
/** Patch ids recorded in a history (core_patch markers carry `{"id": ...}` as a base64 JSON payload). */
const patchesIn = (file: string): string[] =>
  read(file).events.flatMap((e) => {
    const marker = e.markerRecordedEventAttributes as { markerName?: string; details?: Record<string, { payloads?: { data?: string }[] }> } | undefined;
    if (marker?.markerName !== "core_patch") return [];
    const data = marker.details?.["patch-data"]?.payloads?.[0]?.data;
    return data ? [(JSON.parse(Buffer.from(data, "base64").toString("utf8")) as { id: string }).id] : [];
  });

test("committed histories cover every workflow type and every patch", () => {
  for (const type of ["campaignWorkflow", "iterationWorkflow", "stageBatchesWorkflow", "stageJobWorkflow"]) {
    assert.ok(
      files.some((f) => f.startsWith(type)),
      `a ${type} history in ${dir}`,
    );
  }
  const markers = new Set(files.flatMap(patchesIn));
  for (const patch of [
    PATCH_RETRY_BY_CAUSE,
    PATCH_STAGE_CHUNKS,
    PATCH_FROZEN_CONFIG,
    PATCH_CLUSTER_JOB_STAGES,
    PATCH_OPERATOR_SURFACE,
    PATCH_LEAN_HISTORY,
    PATCH_ABORT_WAITS,
    PATCH_CANCEL_DURING_SUBMIT,
    PATCH_ITERATION_ID_WAIT,
    PATCH_JOB_ATTEMPT_FROM_DATABASE,
    PATCH_STAGE_SELF_RECOVERY,
    PATCH_LOST_JOB_TYPE,
    PATCH_ABORT_WAITS_FOR_REGISTRATION,
  ])
    assert.ok(markers.has(patch), `a history recorded with patch ${patch}`);
  assert.ok(
    files.some((f) => f.startsWith("iterationWorkflow") && patchesIn(f).length === 0),
    "an iteration history of the path before any patch",
  );
  // An abort while a campaign registers, on its first start and on a rerun (the row exists, and was ended).
  for (const f of [
    "campaignWorkflow-abort-registering-abort-waits-for-registration.json",
    "campaignWorkflow-abort-registering-rerun-abort-waits-for-registration.json",
  ])
    assert.ok(files.includes(f), `${f} in ${dir}`);
});

for (const file of files) {
  test(`replays ${file} without nondeterminism`, async () => {
    const history = read(file);
    assert.ok(Array.isArray(history.events) && history.events.length > 10, "a real history");
    const workflowId = workflowIds[file];
    assert.ok(workflowId, `${file} is listed in histories/index.json`);
    await Worker.runReplayHistory({ workflowBundle: current, replayName: file, logger: quiet } as never, history, workflowId);
  });
}

test("frozen-config histories replay unchanged under a config module whose defaults changed", async () => {
  const fixture = path.resolve(here, "fixtures/changedDefaults.js");
  const changed = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: quiet,
    // Every import of the config module (except the fixture's own) gets the fixture instead.
    webpackConfigHook: (config) => {
      config.plugins = [
        ...(config.plugins ?? []),
        {
          apply(compiler: {
            hooks: {
              normalModuleFactory: {
                tap(
                  name: string,
                  fn: (f: { hooks: { beforeResolve: { tap(n: string, g: (d: { request: string; context: string }) => void): void } } }) => void,
                ): void;
              };
            };
          }) {
            compiler.hooks.normalModuleFactory.tap("changed-defaults", (factory) => {
              factory.hooks.beforeResolve.tap("changed-defaults", (data) => {
                if (/config\/campaignConfig\.js$/.test(data.request) && !data.context.includes(`${path.sep}fixtures`)) data.request = fixture;
              });
            });
          },
        },
      ];
      return config;
    },
  });
  const frozenPath = files.filter((f) => patchesIn(f).includes(PATCH_FROZEN_CONFIG));
  assert.ok(frozenPath.length >= 5, "histories of the frozen-config path");
  for (const file of frozenPath)
    await Worker.runReplayHistory({ workflowBundle: changed, replayName: file, logger: quiet } as never, read(file), workflowIds[file]);
  // The same change breaks a history whose workflow parsed its input (the reason configs are frozen).
  const legacy = files.find((f) => f.startsWith("iterationWorkflow-operator-retry.json"));
  assert.ok(legacy);
  await assert.rejects(Worker.runReplayHistory({ workflowBundle: changed, replayName: legacy, logger: quiet } as never, read(legacy), workflowIds[legacy]));
});

test("a changed command sequence without patched() fails replay", async () => {
  const changed = await bundleWorkflowCode({ workflowsPath: path.resolve(here, "fixtures/changedWorkflows.js"), logger: quiet });
  // A history without patch markers, so only the unversioned timer can make it fail.
  const file = files.find((f) => f.startsWith("iterationWorkflow") && patchesIn(f).length === 0);
  assert.ok(file);
  await assert.rejects(
    Worker.runReplayHistory({ workflowBundle: changed, replayName: file } as never, read(file), workflowIds[file]),
    (err: unknown) => err instanceof DeterminismViolationError && /timer|StartTimer|command/i.test(String(err)),
  );
});
