/**
 * A cluster-job stage for tests: the job (a Node one-liner run by the real launcher) appends its
 * attempt to attempts.txt in the iteration's output folder, prints verl-style metric lines, sleeps
 * `sleepMs` (or the ms a test wrote to sleep-<attempt>), and exits with the code a test wrote to
 * exit-<attempt> (default 0). The file is its "checkpoint", shared by attempts.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { batchSize, jobWatch } from "../../src/config/fields.js";
import type { ClusterJobHandler } from "../../src/framework/clusterJob.js";
import { createStageRegistry } from "../../src/framework/registry.js";
import { defineStage } from "../../src/framework/stageSpec.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import { STAGE_SPECS } from "../../src/stages/specs.js";

export const testJobSpec = defineStage({
  name: "test.job",
  title: "a test's cluster job",
  latency: "cluster",
  batchTimeoutMinutes: 5,
  roles: [],
  reads: { kind: "job", describe: "nothing" },
  writes: "attempts.txt in the iteration's output folder",
  schema: z.strictObject({
    name: z.literal("test.job"),
    batchSize: batchSize(1),
    sleepMs: z.number().default(1500),
    prepareDelayMs: z.number().default(0),
    steps: z.boolean().default(true),
    /** A step line this often while it sleeps (0: only steps 1 and 2). */
    stepEveryMs: z.number().default(0),
    stallTimeoutSeconds: z.number().optional(),
    watch: jobWatch,
  }),
});
const JOB_SCRIPT = `
const fs = require("node:fs"), path = require("node:path");
const dir = process.env.JOB_DIR, attempt = process.env.JOB_ATTEMPT;
fs.appendFileSync(path.join(dir, "attempts.txt"), attempt + "\\n");
console.log("step:1 - critic/score/mean:0.25 - training/total_steps:2");
let step = 1;
if (Number(process.env.JOB_STEP_EVERY_MS) > 0)
  setInterval(() => console.log("step:" + ++step + " - critic/score/mean:0.25 - training/total_steps:1000"), Number(process.env.JOB_STEP_EVERY_MS));
const sleepFile = path.join(dir, "sleep-" + attempt);
setTimeout(() => {
  console.log("step:2 - critic/score/mean:0.5 - training/total_steps:2");
  const codeFile = path.join(dir, "exit-" + attempt);
  process.exit(fs.existsSync(codeFile) ? Number(fs.readFileSync(codeFile, "utf8")) : 0);
}, fs.existsSync(sleepFile) ? Number(fs.readFileSync(sleepFile, "utf8")) : Number(process.env.JOB_SLEEP_MS));
`;
export const testJobHandler: ClusterJobHandler<{
  name: "test.job";
  batchSize: number;
  sleepMs: number;
  /** How long prepare takes (a slow submit, e.g. sbatch on a busy controller). */
  prepareDelayMs: number;
  /** false: the job reports no steps (like train.merge), so only its end says it is done. */
  steps: boolean;
  stepEveryMs: number;
  stallTimeoutSeconds?: number;
  watch: { windowSeconds: number; pollSeconds: number };
}> = {
  kind: "clusterJob",
  name: "test.job",
  completion: "exit",
  async prepare(ctx, attempt) {
    if (ctx.stage.prepareDelayMs > 0) await new Promise((r) => setTimeout(r, ctx.stage.prepareDelayMs));
    const dir = ctx.outputDir();
    fs.mkdirSync(dir, { recursive: true });
    return {
      request: {
        command: [process.execPath, "-e", JOB_SCRIPT],
        env: { JOB_DIR: dir, JOB_ATTEMPT: String(attempt), JOB_SLEEP_MS: String(ctx.stage.sleepMs), JOB_STEP_EVERY_MS: String(ctx.stage.stepEveryMs) },
        workDir: path.join(dir, "job"),
        resources: { nodes: 1, gpusPerNode: 0 },
      },
    };
  },
  stallTimeoutMs: (ctx) => (ctx.stage.stallTimeoutSeconds !== undefined ? ctx.stage.stallTimeoutSeconds * 1000 : undefined),
  async progress(ctx, _job, logTail) {
    if (!ctx.stage.steps) return undefined;
    const steps = [...(await logTail()).matchAll(/step:(\d+)/g)].map((m) => Number(m[1]));
    return steps.length ? { done: Math.max(...steps), total: 2 } : undefined;
  },
  async collect(ctx) {
    const attempts = fs.readFileSync(path.join(ctx.outputDir(), "attempts.txt"), "utf8").trim().split("\n");
    return { attemptsSeen: attempts.length };
  },
};
/**
 * A server job for tests (completion "ready"): a Node process that runs (five minutes at most, so a test
 * that leaves one behind leaves it briefly) and "serves" once
 * the file `ready` exists in the iteration's output folder; `readyTimeoutSeconds` is its readiness deadline.
 */
export const testServerSpec = defineStage({
  name: "test.server",
  title: "a test's server job",
  latency: "cluster",
  batchTimeoutMinutes: 5,
  roles: [],
  reads: { kind: "job", describe: "nothing" },
  writes: "nothing",
  schema: z.strictObject({
    name: z.literal("test.server"),
    batchSize: batchSize(1),
    readyTimeoutSeconds: z.number().optional(),
    watch: jobWatch,
  }),
});
export const testServerHandler: ClusterJobHandler<{
  name: "test.server";
  batchSize: number;
  readyTimeoutSeconds?: number;
  watch: { windowSeconds: number; pollSeconds: number };
}> = {
  kind: "clusterJob",
  name: "test.server",
  completion: "ready",
  async prepare(ctx) {
    const dir = ctx.outputDir();
    fs.mkdirSync(dir, { recursive: true });
    return {
      request: {
        command: [process.execPath, "-e", 'console.log("test server starting"); setTimeout(() => process.exit(0), 300_000);'],
        env: {},
        workDir: path.join(dir, "server"),
        resources: { nodes: 1, gpusPerNode: 0 },
      },
    };
  },
  ready: async (ctx) => fs.existsSync(path.join(ctx.outputDir(), "ready")),
  readyTimeoutMs: (ctx) => (ctx.stage.readyTimeoutSeconds !== undefined ? ctx.stage.readyTimeoutSeconds * 1000 : undefined),
  collect: async () => ({ served: 1 }),
};
export const testJobRegistry = createStageRegistry([...STAGE_SPECS, testJobSpec, testServerSpec], {
  ...STAGE_HANDLERS,
  "test.job": testJobHandler,
  "test.server": testServerHandler,
});
