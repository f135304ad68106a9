/**
 * The campaign config's `cluster.launcher` section: where cluster jobs run (a local process, a Slurm
 * cluster, a Ray cluster's Jobs API) and how to reach it. Pure zod, no I/O: defaults that depend on
 * the machine (the local state folder, PATH) are resolved by the launcher at run time.
 */
import { z } from "zod";
import { envNameProblem } from "../../config/envVar.js";
import { atMost, boundedString, filePath, int, keyedRecord, serviceUrl } from "../../config/fields.js";

/** RFC 9110 token: what an HTTP header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
/** Slurm partition, account and QOS names: no spaces or shell characters (they become sbatch arguments). */
const SLURM_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const MAX_LIST = 64;

const positiveIntField = (what: string) => int(what).positive(`expected ${what}`);

const noNewline = (what: string) =>
  boundedString(4096, what).refine((s) => !/[\r\n\0]/.test(s), "must be a single line (no newline, carriage return or NUL character)");

const slurmName = (what: string) =>
  z
    .string({ error: `expected a Slurm ${what} name` })
    .regex(SLURM_NAME, `expected a Slurm ${what} name (letters, digits, '_', '.', '-'; at most 128 characters)`)
    .optional();

const port = z
  .number({ error: "expected a port number" })
  .int("expected a port number")
  .min(1, "expected a port number in 1..65535")
  .max(65535, "expected a port number in 1..65535");

const headerNameProblem = (key: string) =>
  HEADER_NAME.test(key) ? undefined : `${JSON.stringify(key)} is not an HTTP header name (letters, digits and !#$%&'*+.^_\`|~-; at most 128)`;

/**
 * The URI schemes Ray's runtime_env accepts for `working_dir` (ray/_common/runtime_env_uri.py). The Jobs
 * REST API does not upload a local folder (only `ray job submit` and `ray.init` do): a plain path makes
 * Ray fail the job at start ("... is not a valid URI"), so it is refused here, naming the field.
 */
const RAY_WORKING_DIR_URI = /^(gcs|https?|s3|gs|azure|abfss|file|local):\/\/[^\s\0]+$/i;

const rayWorkingDir = boundedString(4096, "a URI").refine((s) => RAY_WORKING_DIR_URI.test(s), {
  error: (issue) =>
    /^[a-z][a-z0-9+.-]*:\/\//i.test(String(issue.input))
      ? "expected a URI with a scheme Ray accepts for working_dir: gcs, https, http, s3, gs, azure, abfss, file or local"
      : "expected a URI, not a local path: Ray's Jobs REST API does not upload a folder; write local:///abs/path for a folder present on every node, or the URI of a zip archive (https://, s3://, gs://, file://)",
});

const envVars = keyedRecord(noNewline("a value"), envNameProblem, "environment variable names to values")
  .refine((r) => Object.keys(r).length <= 256, atMost(256, " variables"))
  .default({});

/**
 * sbatch's `--cpus-per-task` and `--mem` (a job runs one task per node). Without them a job gets the
 * partition's defaults, one CPU on many clusters, which starves verl's data loaders and Ray workers.
 */
export const MAX_CPUS_PER_TASK = 4096;
/** sbatch's `--mem`: a whole number, megabytes unless a K, M, G or T unit follows; 0 asks for all of each node's memory. */
export const SLURM_MEMORY = /^(0|[1-9][0-9]{0,11})([KMGT])?$/;

export const cpusPerTask = positiveIntField("a positive integer (sbatch --cpus-per-task)")
  .max(MAX_CPUS_PER_TASK, atMost(MAX_CPUS_PER_TASK, " CPUs"))
  .optional();

export const memPerNode = z
  .string({ error: 'expected sbatch\'s --mem value as a string, such as "64G"' })
  .regex(
    SLURM_MEMORY,
    'expected sbatch\'s --mem value: a whole number with an optional unit K, M, G or T (megabytes without one; "0": all of each node\'s memory), such as "64G" or "512000M"',
  )
  .optional();

/** The CPUs and memory a stage's job asks of Slurm (and of Ray, for its entrypoint): the stage's own settings, else the Slurm launcher's. */
export function slurmCpuMemory(
  launcher: LauncherConfig,
  stage: { cpusPerTask?: number | undefined; memPerNode?: string | undefined },
): { cpusPerTask?: number; memPerNode?: string } {
  const cluster = launcher.kind === "slurm" ? launcher : undefined;
  const cpus = stage.cpusPerTask ?? cluster?.cpusPerTask;
  const mem = stage.memPerNode ?? cluster?.memPerNode;
  return { ...(cpus !== undefined ? { cpusPerTask: cpus } : {}), ...(mem !== undefined ? { memPerNode: mem } : {}) };
}

export const localLauncherConfigSchema = z.strictObject({
  kind: z.literal("local"),
  /** Where job records live; default: $TOOLLOOP_STATE_DIR, else ~/.local/state/toolloop/local-jobs. */
  stateDir: filePath.optional(),
});

export const slurmLauncherConfigSchema = z.strictObject({
  kind: z.literal("slurm"),
  partition: slurmName("partition"),
  account: slurmName("account"),
  qos: slurmName("QOS"),
  /** Folder holding sbatch, squeue, sacct, scontrol and scancel; default: found on PATH. */
  binDir: filePath.optional(),
  /** CPUs per node of every job (`#SBATCH --cpus-per-task`); a stage's own `cpusPerTask` wins. */
  cpusPerTask,
  /** Memory per node of every job (`#SBATCH --mem`, e.g. "64G"); a stage's own `memPerNode` wins. */
  memPerNode,
  /** Passed to sbatch as they are, after the launcher's own options (e.g. "--constraint=h100"); they win over the batch script's #SBATCH lines. */
  extraSbatchArgs: z
    .array(noNewline("an sbatch argument"), { error: "expected a list of sbatch arguments" })
    .max(MAX_LIST, atMost(MAX_LIST, " arguments"))
    .default([]),
  /** The Ray head's port on the first node of a multi-node job (verl's Ray-on-Slurm pattern). */
  rayPort: port.default(6379),
  /** Shell lines run in the batch script before the job (e.g. "module load cuda/12.4", "source venv/bin/activate"). */
  setupCommands: z
    .array(noNewline("a shell command line"), { error: "expected a list of shell command lines" })
    .max(MAX_LIST, atMost(MAX_LIST, " lines"))
    .default([]),
});

export const rayLauncherConfigSchema = z.strictObject({
  kind: z.literal("ray"),
  /** The Ray dashboard (Jobs API), e.g. http://127.0.0.1:8265. */
  address: serviceUrl("http://127.0.0.1:8265", "the http: or https: URL of the Ray dashboard, such as"),
  runtimeEnv: z
    .strictObject({
      /** Ray's `working_dir`: a URI (local:///dir present on every node, or a zip at https://, s3://, gs://, gcs://, file://). */
      workingDir: rayWorkingDir.optional(),
      pip: z.array(boundedString(512, "a pip requirement"), { error: "expected a list of pip requirements" }).max(256, atMost(256, " requirements")).optional(),
      envVars,
    })
    .optional(),
  /** Sent with every Jobs API request (e.g. an auth header of a proxy in front of the dashboard). */
  headers: keyedRecord(noNewline("a header value"), headerNameProblem, "HTTP header names to values")
    .refine((r) => Object.keys(r).length <= MAX_LIST, atMost(MAX_LIST, " headers"))
    .default({}),
});

export const launcherConfigSchema = z.discriminatedUnion("kind", [localLauncherConfigSchema, slurmLauncherConfigSchema, rayLauncherConfigSchema], {
  error: (issue): string | undefined => (issue.code === "invalid_union" ? 'expected kind to be one of "local", "slurm", "ray"' : undefined),
});

export type LocalLauncherConfig = z.infer<typeof localLauncherConfigSchema>;
export type SlurmLauncherConfig = z.infer<typeof slurmLauncherConfigSchema>;
export type RayLauncherConfig = z.infer<typeof rayLauncherConfigSchema>;
export type LauncherConfig = z.infer<typeof launcherConfigSchema>;
