/**
 * A stage step (planning, a batch, finalizing, a cluster job) that reached a worker whose build does
 * not have the stage. During a rolling deploy old and new workers poll the same task queues, so a step
 * of a stage only the new build has can reach an old worker: no fault of the stage, so the step is
 * retried, uncounted like an infrastructure failure (activities/failurePolicy.ts), and Temporal hands
 * the retry to whichever worker polls next: a newer one takes it within a few retries.
 *
 * Never silently forever: a deploy takes minutes, so a step still refused STAGE_MISSING_LIMIT_MS
 * after it was first scheduled means no worker of its task queue has the stage (a deploy stopped
 * half-way, or rolled back). It then fails non-retryably as FailedAfterRetries and the stage waits
 * for an operator (`campaign status` shows the message: which worker build lacks the stage and what to
 * do). Meanwhile each retry's message is the activity's last failure in the Temporal UI.
 *
 * The type is retryable under every retry-by-cause policy the workflows already set (it is not in
 * NON_RETRYABLE_ERROR_TYPES), so no workflow code changes; workflows started before that patch keep
 * their three-attempt policy and fail the stage for the operator after three such attempts, as before.
 */
import os from "node:os";
import { ApplicationFailure, Context } from "@temporalio/activity";
import { ErrorType } from "../src/framework/errorTypes.js";
import { retryStageAdvice, type OnStageFailure } from "../src/framework/stageFailureAdvice.js";
import { codeVersion } from "../src/provenance/codeVersion.js";
import { configThisBuildRefuses, formatPath, suggestedField, type RejectedConfigValue } from "../src/config/campaignConfig.js";
import type { AnyStageSpec } from "../src/framework/stageSpec.js";
import { describeBuild, type BuildIdentity, type SeenBuild } from "../src/ops/workerBuilds.js";
import { closestName } from "../src/util/closestName.js";

/** How long after it was first scheduled a step may keep meeting workers without its stage. */
export const STAGE_MISSING_LIMIT_MS = 60 * 60_000;

/** This worker as an operator finds it: Temporal's default identity (pid@host) and the build it runs. */
export function workerBuild(): string {
  const v = codeVersion();
  const commit = v.commit ? `, commit ${v.commit.slice(0, 12)}${v.dirty ? " (uncommitted changes)" : ""}` : "";
  return `worker ${process.pid}@${os.hostname()}, ${v.package} ${v.version}${commit}`;
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

/** Where this activity runs and how long since it was first scheduled. */
function situation(known: readonly string[], limitMs: number | undefined) {
  let info: { scheduledTimestampMs: number; taskQueue: string } | undefined;
  try {
    info = Context.current().info;
  } catch {
    // Called outside an activity (a test calling the function itself): nothing was scheduled or waited for.
    info = undefined;
  }
  return {
    limitMs: limitMs ?? STAGE_MISSING_LIMIT_MS,
    waitedMs: info ? Math.max(0, Date.now() - info.scheduledTimestampMs) : 0,
    queue: info?.taskQueue ?? "(none: not run as an activity)",
    here: `${workerBuild()}; it runs: ${known.join(", ")}`,
  };
}

/**
 * The failure for a step of `stage` on this worker, which runs only `known`: retryable within
 * `limitMs` of the step's first scheduling, FailedAfterRetries after.
 */
export function stageMissingFailure(p: {
  stage: string;
  campaignId: string;
  onStageFailure?: OnStageFailure;
  known: readonly string[];
  limitMs?: number;
}): ApplicationFailure {
  const { limitMs, waitedMs, queue, here } = situation(p.known, p.limitMs);
  if (waitedMs >= limitMs) {
    return ApplicationFailure.create({
      type: ErrorType.failedAfterRetries,
      nonRetryable: true,
      message:
        `stage "${p.stage}" is not known to the workers of task queue ${queue} that took this step in the ${minutes(waitedMs)} since it was scheduled (last: ${here}): ` +
        `upgrade the workers polling ${queue} to a build that has the stage, ${retryStageAdvice(p.onStageFailure, p.campaignId, p.stage)}`,
    });
  }
  return ApplicationFailure.create({
    type: ErrorType.stageNotOnWorker,
    nonRetryable: false,
    message:
      `stage "${p.stage}" is not known to this worker (${here}): an older build, e.g. during a rolling deploy; ` +
      `retried (not counted as a failure) for another worker of task queue ${queue} to take; ` +
      `if none with the stage takes it within ${minutes(limitMs)} of its scheduling the stage waits for an operator: upgrade the workers polling ${queue}`,
  });
}

/**
 * The failure for a step of `stage` whose frozen config has `fields` this worker's build does not
 * define (src/config/campaignConfig.ts unknownConfigFields): a newer build froze it, having added
 * them to the stage (or to the endpoints, roles, cluster it uses). Running it here would silently
 * leave them out (a stage without the `cpusPerTask` it was given), so it is left for another worker
 * as a missing stage is: retryable and uncounted within `limitMs` of the step's first scheduling,
 * FailedAfterRetries (the stage waits for an operator) after.
 */
export function unknownFieldsFailure(p: {
  stage: string;
  campaignId: string;
  onStageFailure?: OnStageFailure;
  fields: readonly string[];
  known: readonly string[];
  limitMs?: number;
}): ApplicationFailure {
  const { limitMs, waitedMs, queue, here } = situation(p.known, p.limitMs);
  const fields = `field${p.fields.length === 1 ? "" : "s"} ${p.fields.join(", ")}`;
  if (waitedMs >= limitMs) {
    return ApplicationFailure.create({
      type: ErrorType.failedAfterRetries,
      nonRetryable: true,
      message:
        `stage "${p.stage}": the campaign's config has ${fields}, which the workers of task queue ${queue} that took this step in the ${minutes(waitedMs)} since it was scheduled do not define (last: ${here}): ` +
        `upgrade the workers polling ${queue} to the build that froze the config, ${retryStageAdvice(p.onStageFailure, p.campaignId, p.stage)}`,
    });
  }
  return ApplicationFailure.create({
    type: ErrorType.stageNotOnWorker,
    nonRetryable: false,
    message:
      `stage "${p.stage}": the campaign's config has ${fields}, which this worker's build does not define (${here}), so it would run without ${p.fields.length === 1 ? "it" : "them"}: a newer build's, e.g. during a rolling deploy; ` +
      `retried (not counted as a failure) for another worker of task queue ${queue} to take; ` +
      `if none that defines ${p.fields.length === 1 ? "it" : "them"} takes it within ${minutes(limitMs)} of its scheduling the stage waits for an operator: upgrade the workers polling ${queue}`,
  });
}

/**
 * The failure for a step of `stage` whose frozen config has `values` this worker's build refuses
 * (src/config/campaignConfig.ts rejectedConfigValues): a newer build froze it, having added the value
 * (an enum member, a looser bound). Running it here would use a value this build never validated, or
 * fail on it naming nothing, so it is left for another worker as an unknown field is: retryable and
 * uncounted within `limitMs` of the step's first scheduling, FailedAfterRetries (the stage waits for
 * an operator) after. Each value is named with what this build expects there.
 */
export function rejectedValuesFailure(p: {
  stage: string;
  campaignId: string;
  onStageFailure?: OnStageFailure;
  values: readonly { text: string; value?: string; expected: string }[];
  known: readonly string[];
  limitMs?: number;
}): ApplicationFailure {
  const { limitMs, waitedMs, queue, here } = situation(p.known, p.limitMs);
  const one = p.values.length === 1;
  const values = p.values.map((v) => (v.value === undefined ? `${v.text} (as a whole)` : `${v.text} = ${v.value}`)).join(", ");
  const expected = p.values.map((v) => (one ? v.expected : `${v.text}: ${v.expected}`)).join("; ");
  if (waitedMs >= limitMs) {
    return ApplicationFailure.create({
      type: ErrorType.failedAfterRetries,
      nonRetryable: true,
      message:
        `stage "${p.stage}": the campaign's config has ${values}, which the workers of task queue ${queue} that took this step in the ${minutes(waitedMs)} since it was scheduled do not accept (their build: ${expected}; last: ${here}): ` +
        `upgrade the workers polling ${queue} to the build that froze the config, ${retryStageAdvice(p.onStageFailure, p.campaignId, p.stage)}`,
    });
  }
  return ApplicationFailure.create({
    type: ErrorType.stageNotOnWorker,
    nonRetryable: false,
    message:
      `stage "${p.stage}": the campaign's config has ${values}, which this worker's build does not accept (this build: ${expected}; ${here}), so it would run with ${one ? "a value" : "values"} it never checked: a newer build's, e.g. during a rolling deploy; ` +
      `retried (not counted as a failure) for another worker of task queue ${queue} to take; ` +
      `if none that accepts ${one ? "it" : "them"} takes it within ${minutes(limitMs)} of its scheduling the stage waits for an operator: upgrade the workers polling ${queue}`,
  });
}

/**
 * Stage names of a config (before it is parsed) that no spec of `known` has, as a name or a former
 * name, with their field paths: a config written for a newer build, or a misspelt name.
 */
export function unknownStageNames(raw: unknown, known: readonly { name: string; formerNames?: readonly string[] }[]): { path: string; name: string }[] {
  const stages = raw !== null && typeof raw === "object" ? (raw as { stages?: unknown }).stages : undefined;
  if (!Array.isArray(stages)) return [];
  const names = new Set(known.flatMap((s) => [s.name, ...(s.formerNames ?? [])]));
  const out: { path: string; name: string }[] = [];
  stages.forEach((s: unknown, i) => {
    const name = s !== null && typeof s === "object" ? (s as { name?: unknown }).name : undefined;
    if (typeof name === "string" && !names.has(name)) out.push({ path: `stages[${i}].name`, name });
  });
  return out;
}

/** What a submitted config has that this build does not know, each with the name it most likely meant where one is close. */
export interface RefusedConfig {
  unknownStages: { path: string; name: string; suggestion?: string }[];
  unknownFields: { text: string; suggestion?: string }[];
  /** Values this build refuses, less the entries of stages it lacks (those are unknownStages). */
  rejectedValues: RejectedConfigValue[];
}

export function refusedByThisBuild(raw: unknown, specs: readonly AnyStageSpec[]): RefusedConfig {
  const stageNames = specs.map((s) => s.name);
  const unknownStages = unknownStageNames(raw, specs).map((u) => {
    const suggestion = closestName(u.name, stageNames);
    return suggestion === undefined ? u : { ...u, suggestion };
  });
  const refused = configThisBuildRefuses(raw, specs);
  const unknownFields = refused.unknownFields.map((f) => {
    const near = suggestedField(raw, f.path, specs);
    return near === undefined ? { text: f.text } : { text: f.text, suggestion: formatPath([...f.path.slice(0, -1), near]) };
  });
  const unknownIndexes = new Set(unknownStages.map((u) => u.path));
  const rejectedValues = refused.rejectedValues.filter((v) => !(v.path[0] === "stages" && unknownIndexes.has(`stages[${String(v.path[1])}].name`)));
  return { unknownStages, unknownFields, rejectedValues };
}

/** `stage "x" (stages[1].name) and field stages[0].batchSzie and value stages[1].batchSize = 3000 (this build: expected at most 2000)` */
function namedInConfig(p: RefusedConfig): { named: string; kinds: string[] } {
  const parts: string[] = [];
  const kinds: string[] = [];
  if (p.unknownStages.length > 0) {
    parts.push(`stage ${p.unknownStages.map((u) => `"${u.name}" (${u.path})`).join(", ")}`);
    kinds.push("stage");
  }
  if (p.unknownFields.length > 0) {
    parts.push(`field${p.unknownFields.length === 1 ? "" : "s"} ${p.unknownFields.map((f) => f.text).join(", ")}`);
    kinds.push("field");
  }
  if (p.rejectedValues.length > 0) {
    const values = p.rejectedValues.map((v) => `${v.value === undefined ? `${v.text} (as a whole)` : `${v.text} = ${v.value}`} (this build: ${v.expected})`);
    parts.push(`value${values.length === 1 ? "" : "s"} ${values.join(", ")}`);
    kinds.push("value");
  }
  return { named: parts.join(" and "), kinds };
}

const listed = (items: readonly string[]) => (items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`);

/** `; did you mean stages[1].batchSize instead of stages[1].batchSzie?`, or nothing where no known name is close. */
function didYouMean(p: RefusedConfig): string {
  const hints = [
    ...p.unknownStages.flatMap((u) => (u.suggestion === undefined ? [] : [`"${u.suggestion}" instead of "${u.name}" (${u.path})`])),
    ...p.unknownFields.flatMap((f) => (f.suggestion === undefined ? [] : [`${f.suggestion} instead of ${f.text}`])),
  ];
  return hints.length === 0 ? "" : `; did you mean ${hints.join(", ")}?`;
}

const ago = (at: Date) => `${Math.max(0, Math.round((Date.now() - at.getTime()) / 60_000))} min ago`;

/**
 * Registering (freezing) a config that names stages, fields or values this worker's build does not
 * know, while a newer build may (src/ops/workerBuilds.ts: one was alive lately, or the builds are not
 * known). The CLI validated it with its own build, so during a rolling deploy it is a newer build's
 * config: retried for another worker, uncounted. A mistake (a start from the Temporal UI, which nothing
 * validated before) looks the same from here: it fails as InvalidCampaignConfig, with `invalid` (the
 * parse error naming the field), once no worker knew it for `limitMs`; meanwhile each retry's message names it.
 */
export function configStageMissingFailure(
  p: RefusedConfig & {
    invalid: string;
    known: readonly string[];
    /** The newer builds alive lately (worker_builds); absent where the builds are not known. */
    newer?: readonly SeenBuild[];
    limitMs?: number;
  },
): ApplicationFailure {
  const { limitMs, waitedMs, queue, here } = situation(p.known, p.limitMs);
  const { named, kinds } = namedInConfig(p);
  const onlyNames = p.rejectedValues.length === 0;
  if (waitedMs >= limitMs) {
    return ApplicationFailure.create({
      type: ErrorType.invalidConfig,
      nonRetryable: true,
      message:
        `${p.invalid} (no worker of task queue ${queue} knew ${named} in the ${minutes(waitedMs)} since the registration was scheduled; last: ${here}): ` +
        `fix the ${onlyNames ? "name" : "config"}, or upgrade the workers polling ${queue} to the build that has ${listed(kinds.map((k) => `the ${k}`))} and start the campaign again${didYouMean(p)}`,
    });
  }
  const newest = p.newer?.reduce((a, b) => (b.lastSeenAt > a.lastSeenAt ? b : a));
  const seen = newest ? `; a newer build ran a worker lately (${describeBuild(newest)}: worker ${newest.lastWorker}, ${ago(newest.lastSeenAt)})` : "";
  return ApplicationFailure.create({
    type: ErrorType.stageNotOnWorker,
    nonRetryable: false,
    message:
      `the config names ${named}, which this worker does not know (${here}): a newer build's ${listed(kinds)}, e.g. during a rolling deploy, ` +
      `retried (not counted as a failure) for another worker of task queue ${queue} to take; if it is ${onlyNames ? "a misspelt name" : "a mistake"}, ` +
      `the campaign fails as InvalidCampaignConfig ${minutes(limitMs)} after its registration was scheduled${seen}${didYouMean(p)}`,
  });
}

/**
 * Registering a config with stages, fields or values this worker's build does not know when no newer
 * build has run a worker on the database within `withinMs` (src/ops/workerBuilds.ts): no worker that
 * would accept it is coming, so it is a mistake (a name misspelt in a start from the Temporal UI) and
 * fails now, naming it and the known name it most likely meant, instead of after `limitMs` of retries.
 */
export function configNoNewerBuildFailure(
  p: RefusedConfig & { invalid: string; known: readonly string[]; build: BuildIdentity; withinMs: number; issues?: unknown },
): ApplicationFailure {
  const { named } = namedInConfig(p);
  return ApplicationFailure.create({
    type: ErrorType.invalidConfig,
    nonRetryable: true,
    message:
      `${p.invalid}${didYouMean(p)} (this worker's build, ${describeBuild(p.build)}, does not know ${named}, and no newer build has run a worker on this database in the last ${hours(p.withinMs)}, ` +
      `so no worker would accept it): fix the config and start the campaign again`,
    ...(p.issues !== undefined ? { details: [p.issues] } : {}),
  });
}

const hours = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : minutes(ms));
