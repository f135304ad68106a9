/**
 * The model a training job (train.sft, train.grpo) starts from, recorded on the job's request when it
 * is prepared and read back when the job is collected, to register the new version's parent. Looked
 * up again at the job's end, the lineage could have moved on while the job ran (its predecessor run
 * again by hand, or merging another iteration): `model list` then named a parent the job never
 * trained from. Kept in the request's env, as serve.policy keeps its checkpoint fingerprint: the
 * recorded request is what was submitted, and a job prepared by an older build simply has none.
 */
import type { JobRequest } from "./launchers/launcher.js";

/** Set on the job's request: the JSON of its StartModel. */
export const START_MODEL_ENV = "TOOLLOOP_START_MODEL";

export interface StartModel {
  /** The checkpoint folder or base model name passed to the trainer (model.path). */
  path: string;
  /** model_versions.id of the version it continues; absent: it starts from the base model. */
  versionId?: string;
  baseModel: string;
  simulated: boolean;
}

/** The env entry that records `start` on a job's request. */
export function startModelEnv(start: StartModel): Record<string, string> {
  const { path, versionId, baseModel, simulated } = start;
  return { [START_MODEL_ENV]: JSON.stringify({ path, ...(versionId !== undefined ? { versionId } : {}), baseModel, simulated }) };
}

/**
 * The start model recorded on a job's request; undefined when it has none (a job prepared by a build
 * before the record existed: its caller looks the start model up as it did then). A record that
 * cannot be read is an error naming the job and the field.
 */
export function recordedStartModel(request: Pick<JobRequest, "name" | "env">): StartModel | undefined {
  const raw = request.env?.[START_MODEL_ENV];
  if (raw === undefined) return undefined;
  const bad = (what: string) => new Error(`job ${request.name}: env ${START_MODEL_ENV} ${what}: ${JSON.stringify(raw).slice(0, 200)}`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw bad("is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad("is not a JSON object");
  const v = value as Record<string, unknown>;
  if (typeof v.path !== "string" || v.path === "") throw bad("has no path (a non-empty string)");
  if (typeof v.baseModel !== "string" || v.baseModel === "") throw bad("has no baseModel (a non-empty string)");
  if (v.versionId !== undefined && typeof v.versionId !== "string") throw bad("has a versionId that is not a string");
  if (typeof v.simulated !== "boolean") throw bad("has no simulated (true or false)");
  return { path: v.path, ...(v.versionId !== undefined ? { versionId: v.versionId } : {}), baseModel: v.baseModel, simulated: v.simulated };
}
