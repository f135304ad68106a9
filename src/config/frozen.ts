/**
 * A campaign config parsed once and frozen: defaults applied, tool file paths resolved against the
 * config file's folder, each stage's scheduling copied from its spec, a schema version and a sha256.
 * The frozen copy is stored per campaign (and per config version); workflows and activities read it
 * and never re-apply today's defaults to an old campaign.
 */
import path from "node:path";
import type { AnyStageSpec } from "../framework/stageSpec.js";
import { runsInIteration, schedulingOf, type StageScheduling } from "../framework/stageSpec.js";
import { STAGE_SPECS } from "../stages/specs.js";
import { clusterConfigSchema } from "../training/clusterConfig.js";
import { canonicalJson, sha256Hex } from "../util/ids.js";
import { formatPath, InvalidCampaignConfigError, parseCampaignConfig, type CampaignConfig } from "./campaignConfig.js";
import type { CampaignPlan } from "./plan.js";

/** Bumped when the frozen shape changes; readers migrate older versions. */
export const FROZEN_CONFIG_SCHEMA_VERSION = 1;

export interface FrozenCampaignConfig {
  schemaVersion: typeof FROZEN_CONFIG_SCHEMA_VERSION;
  config: CampaignConfig;
  /** Scheduling of each configured stage, in `config.stages` order, as its spec said when frozen. */
  stages: StageScheduling[];
  /** Where relative paths were resolved from. */
  configDir: string;
}

export type FreezeResult = { ok: true; frozen: FrozenCampaignConfig; hash: string; warnings: string[] } | { ok: false; error: InvalidCampaignConfigError };

/** Parses, applies defaults and resolves paths; `configDir` is the config file's folder. */
export function freezeCampaignConfig(raw: unknown, opts: { configDir: string; specs?: readonly AnyStageSpec[] }): FreezeResult {
  const specs = opts.specs ?? STAGE_SPECS;
  if (isFrozenCampaignConfig(raw)) {
    const clusterProblem = frozenClusterIssues(raw);
    if (clusterProblem) return { ok: false, error: clusterProblem };
    return { ok: true, frozen: raw, hash: frozenConfigHash(raw), warnings: [] };
  }
  const parsed = parseCampaignConfig(raw, specs);
  if (!parsed.ok) return parsed;
  const configDir = path.resolve(opts.configDir);
  const config: CampaignConfig = {
    ...parsed.config,
    tools: { sources: parsed.config.tools.sources.map((s) => ("path" in s ? { ...s, path: path.resolve(configDir, s.path) } : s)) },
  };
  const stages = config.stages.map((s) => {
    const spec = specs.find((x) => x.name === s.name);
    if (!spec) throw new Error(`no spec for stage "${s.name}" although the config parsed`);
    return schedulingOf(spec, s as { watch?: { windowSeconds: number; pollSeconds: number }; runIn?: "first" | "later" | "every" });
  });
  const frozen: FrozenCampaignConfig = { schemaVersion: FROZEN_CONFIG_SCHEMA_VERSION, config, stages, configDir };
  return { ok: true, frozen, hash: frozenConfigHash(frozen), warnings: parsed.warnings };
}

/**
 * A frozen config is taken as it is (today's defaults are not applied to it again), but its `cluster`
 * section is checked: its launcher kind picks the code that runs every cluster job, and one this build
 * does not know (a frozen file edited by hand, or written by a newer build) failed each job's activity
 * with a TypeError, counted against its retries, instead of being refused here naming the field.
 */
function frozenClusterIssues(frozen: FrozenCampaignConfig): InvalidCampaignConfigError | undefined {
  const r = clusterConfigSchema.safeParse((frozen.config as { cluster?: unknown }).cluster ?? {});
  if (r.success) return undefined;
  return new InvalidCampaignConfigError(r.error.issues.map((i) => ({ path: formatPath(["config", "cluster", ...i.path]), message: i.message })));
}

/** A value that already is a frozen config (a CLI-frozen config passed through a workflow start). */
export function isFrozenCampaignConfig(v: unknown): v is FrozenCampaignConfig {
  if (typeof v !== "object" || v === null) return false;
  const f = v as Partial<FrozenCampaignConfig>;
  return f.schemaVersion === FROZEN_CONFIG_SCHEMA_VERSION && typeof f.config === "object" && Array.isArray(f.stages) && typeof f.configDir === "string";
}

export function frozenConfigHash(frozen: FrozenCampaignConfig): string {
  return sha256Hex(canonicalJson(frozen));
}

/** The plan of a campaign; with `iteration`, only the stages that run in that iteration. */
export function planOf(campaignId: string, frozen: FrozenCampaignConfig, version: number, hash: string, iteration?: number): CampaignPlan {
  const c = frozen.config;
  return {
    campaignId,
    name: c.name,
    configVersion: version,
    configHash: hash,
    iterations: c.iterations,
    batchesInParallel: c.concurrency.batchesInParallel,
    onStageFailure: c.onStageFailure,
    stages: iteration === undefined ? frozen.stages : frozen.stages.filter((s) => runsInIteration(s, iteration)),
  };
}

/**
 * The differences between two frozen configs, one line each (`stages[0].count: 100 -> 200`), for the
 * message that refuses a changed config on an existing campaign id. At most `limit` lines.
 */
export function describeConfigDiff(before: unknown, after: unknown, limit = 20): string[] {
  const lines: string[] = [];
  const walk = (a: unknown, b: unknown, at: string) => {
    if (lines.length > limit) return;
    if (canonicalJson(a) === canonicalJson(b)) return;
    const bothObjects = typeof a === "object" && a !== null && typeof b === "object" && b !== null && Array.isArray(a) === Array.isArray(b);
    if (!bothObjects) {
      lines.push(`${at || "(root)"}: ${show(a)} -> ${show(b)}`);
      return;
    }
    const keys = Array.isArray(a)
      ? [...Array(Math.max(a.length, (b as unknown[]).length)).keys()]
      : [...new Set([...Object.keys(a), ...Object.keys(b as object)])].sort();
    for (const k of keys) {
      const next = typeof k === "number" ? `${at}[${k}]` : at ? `${at}.${k}` : k;
      walk((a as Record<string | number, unknown>)[k], (b as Record<string | number, unknown>)[k], next);
    }
  };
  walk(before, after, "");
  if (lines.length > limit) return [...lines.slice(0, limit), `... and more`];
  return lines;
}

function show(v: unknown): string {
  if (v === undefined) return "(absent)";
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
