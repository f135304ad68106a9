/**
 * What a stage is, without doing anything: its name, config schema, where it runs, the roles it
 * calls and what it reads and writes. Pure (no I/O): the config schema and the frozen campaign plan
 * are built from the list of specs, and workflows only ever see the scheduling part.
 */
import type { z } from "zod";
import type { LatencyClass } from "../taskQueues.js";

/** A role's name in `roles` (generator, judge, policy; later user, planner, toolServer, ...). */
export type RoleName = string;

/**
 * The samples a stage reads. Its batches are fixed when the stage is planned (the member ids of each
 * batch are stored with the stage run), so rows other stages add or change later never move them.
 */
export interface SampleSelection {
  /**
   * Where the samples come from: `iteration` (samples made in the stage's iteration), `pool` (the
   * iteration's training pool, pool_members), `probeMismatches` (pool samples probe.greedy found the
   * policy getting wrong in this iteration), `errorSeeds` (samples repair.labels made error seeds in
   * this iteration).
   */
  scope: "iteration" | "pool" | "probeMismatches" | "errorSeeds";
  /** Only samples of these origins (synthesized, repaired, expanded, ...); all when absent. */
  origins?: readonly string[];
  /** Only samples in these statuses; all when absent. */
  statuses?: readonly string[];
}

export type StageInput<C> =
  /** Numbered work slots the stage fills itself (synthesis): `items(config)` of them. */
  | { kind: "slots"; items(config: C): number; describe: string }
  /**
   * Samples chosen by a selection, planned into batches of `batchSize` ids, or into one batch when
   * the stage writes one artifact from all of them (`batchSize` is then its read page size).
   */
  | { kind: "samples"; selection(config: C): SampleSelection; oneBatch?: boolean; describe: string }
  /** Something outside the sample store (a benchmark's data); the handler plans its own batches. */
  | { kind: "external"; describe: string }
  /**
   * One long cluster job (training, merging, serving) instead of batches: submitted idempotently
   * under a name derived from campaign, iteration, stage and attempt, then watched by a child
   * workflow on the cluster queue until it ends (or, for a server, until it answers).
   */
  | { kind: "job"; describe: string };

export interface StageSpec<N extends string = string, C extends { name: N; batchSize: number } = { name: N; batchSize: number }> {
  name: N;
  /** A human label for status lines and the UI. */
  title: string;
  /** The task queue its batches run on. */
  latency: LatencyClass;
  /** Upper bound for one batch activity. */
  batchTimeoutMinutes: number;
  /**
   * Its plan() may take long (evaluate.bfcl sets up the bfcl-eval environment): planned in an
   * activity on the stage's queue. Other stages plan in milliseconds and are planned in a local
   * activity inside the workflow task (the lean-history path).
   */
  heavyPlanning?: true;
  /** Config schema of one `stages[]` entry: a strict object whose `name` is this stage's name. */
  schema: z.ZodType<C, unknown>;
  /** Roles the stage calls; a config naming the stage must configure each. */
  roles: readonly RoleName[];
  reads: StageInput<C>;
  /** Roles the stage's own config names (e.g. a judge committee's members), each with its path in the entry; checked like `roles`. */
  configuredRoles?(config: C): readonly { role: RoleName; path: readonly (string | number)[] }[];
  /** What the stage writes, for the README and `campaign validate`. */
  writes: string;
  /**
   * Fields of the entry (dotted paths: `grpo.oldKnob`) an older build wrote and this one no longer
   * defines. A field removed or renamed must be listed here: configs frozen before carry it, and a
   * worker refuses a step whose config has a field its build does not define (a newer build's, in a
   * rolling deploy: activities/stageOnWorker.ts), so without it running campaigns would stop. The
   * CLI still refuses it in a new config.
   */
  retiredFields?: readonly string[];
  /** Former names still accepted in configs, each with a deprecation message naming this one. */
  formerNames?: readonly string[];
  /** What it leaves for the stages after it in its iteration (the stage-order check, src/config/stageOrder.ts). */
  makes?(config: C): readonly StageArtifact[];
  /** What an earlier stage of its iteration must have made, beyond what its sample selection's scope implies. */
  needs?(config: C): readonly StageArtifact[];
}

/**
 * What one stage of an iteration hands the stages after it. Checked when a config is read: a stage
 * needing one that no earlier stage of its iteration makes finds nothing to read, or fails.
 */
export type StageArtifact =
  /** Samples made in the iteration (a selection of scope `iteration` reads them). */
  | "samples"
  /** The iteration's training pool (scope `pool`). */
  | "pool"
  /** The pool samples the policy got wrong (scope `probeMismatches`). */
  | "probeMismatches"
  /** The samples the judges made error seeds (scope `errorSeeds`). */
  | "errorSeeds"
  | "verlDataset"
  | "sftDataset"
  | "grpoCheckpoint"
  | "mergedPolicy";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStageSpec = StageSpec<string, any>;

/** Keeps a spec's literal name and config type (so the union of configs is derived from the list). */
export function defineStage<const N extends string, C extends { name: N; batchSize: number }>(spec: StageSpec<N, C>): StageSpec<N, C> {
  return spec;
}

/** The scheduling a workflow needs of a stage, frozen into the campaign plan. */
export interface StageScheduling {
  name: string;
  title: string;
  latency: LatencyClass;
  batchTimeoutMinutes: number;
  /** Present for stages that run one cluster job (absent: batches, as in every plan frozen before jobs existed). */
  execution?: "clusterJob";
  /** Present when the stage runs only in the first iteration ("first") or only after it ("later"). */
  runIn?: "first" | "later";
  /** For cluster jobs: how long one watch activity polls, and how often (from the stage's config). */
  jobWatch?: { windowSeconds: number; pollSeconds: number };
  /** Planned in a local activity on the lean-history path; absent: an activity on its queue (heavy planning, or plans made before). */
  plannedLocally?: true;
}

/** Whether a stage scheduled so runs in `iteration` (1-based). */
export function runsInIteration(s: Pick<StageScheduling, "runIn">, iteration: number): boolean {
  if (s.runIn === "first") return iteration === 1;
  if (s.runIn === "later") return iteration > 1;
  return true;
}

export function schedulingOf(
  spec: Pick<StageSpec, "name" | "title" | "latency" | "batchTimeoutMinutes" | "reads" | "heavyPlanning">,
  stage?: { watch?: { windowSeconds: number; pollSeconds: number }; runIn?: "first" | "later" | "every" },
): StageScheduling {
  const s: StageScheduling = { name: spec.name, title: spec.title, latency: spec.latency, batchTimeoutMinutes: spec.batchTimeoutMinutes };
  if (stage?.runIn === "first" || stage?.runIn === "later") s.runIn = stage.runIn;
  if (!spec.heavyPlanning) s.plannedLocally = true;
  if (spec.reads.kind === "job") {
    s.execution = "clusterJob";
    if (stage?.watch) s.jobWatch = { windowSeconds: stage.watch.windowSeconds, pollSeconds: stage.watch.pollSeconds };
  }
  return s;
}
