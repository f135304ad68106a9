/**
 * Shared setup of the self-evolution stage tests: a campaign config on the simulator, stage contexts
 * for handlers run directly, seed samples synthesized by the simulator's generator and put into the
 * iteration's pool, and a label corrupted on purpose (a wrong argument value the rules cannot see).
 */
import { parseCampaignConfig, type CampaignConfig } from "../../src/config/campaignConfig.js";
import type { Db } from "../../src/db/client.js";
import { insertPoolMembers } from "../../src/db/repos/pools.js";
import { insertProbeResults } from "../../src/db/repos/probes.js";
import type { AssistantAnswer } from "../../src/matching/labelAgreement.js";
import type { MatchReason } from "../../src/matching/matcher.js";
import { insertSamples, type NewSample } from "../../src/db/repos/samples.js";
import { upsertModelVersion } from "../../src/db/repos/modelVersions.js";
import { planSelection } from "../../src/db/repos/stageBatchItems.js";
import type { ChatMessage, McpTool } from "../../src/domain/types.js";
import type { BatchResult, StageContext, StageEntry, StageHandler } from "../../src/framework/stage.js";
import { buildStageContext } from "../../src/framework/stageContext.js";
import { RequestLedger } from "../../src/framework/requestLedger.js";
import { createRoleClient, type LlmClient } from "../../src/llm/client.js";
import type { UsageSink } from "../../src/llm/usage.js";
import { synthesizeSingleTurn } from "../../src/synthesis/singleTurn.js";
import { STAGE_SPECS } from "../../src/stages/specs.js";
import { EXAMPLE_TOOLS } from "../../src/tools/examples.js";
import { sampleId } from "../../src/util/ids.js";

export function campaignConfig(p: { simUrl: string; judgeUrl?: string; stages: Record<string, unknown>[]; roles?: Record<string, unknown> }): CampaignConfig {
  const parsed = parseCampaignConfig(rawCampaign(p));
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

export function rawCampaign(p: {
  simUrl: string;
  judgeUrl?: string;
  stages: Record<string, unknown>[];
  roles?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    name: "self-evolution-it",
    endpoints: {
      sim: { baseUrl: p.simUrl, maxConcurrency: 8, maxRetries: 1 },
      ...(p.judgeUrl ? { scriptedJudge: { baseUrl: p.judgeUrl, maxConcurrency: 4, maxRetries: 0 } } : {}),
    },
    roles: {
      generator: { endpoint: "sim", model: "toolloop-sim-generator" },
      policy: { endpoint: "sim", model: "toolloop-sim-policy" },
      judge: { endpoint: p.judgeUrl ? "scriptedJudge" : "sim", model: p.judgeUrl ? "scripted-judge" : "toolloop-sim-judge" },
      ...p.roles,
    },
    tools: { sources: [{ kind: "example" }] },
    stages: p.stages,
  };
}

export function stageContext<S extends StageEntry>(
  db: Db,
  workDir: string,
  campaignId: string,
  config: CampaignConfig,
  stageName: string,
  iteration = 1,
  /** The served version the policy role points at (null: the configured policy). */
  policyVersionId: string | null = null,
): StageContext<S> {
  const stage = config.stages.find((s) => s.name === stageName) as unknown as S;
  const deps = {
    db,
    baseDir: workDir,
    log: () => undefined,
    createLlm: (cfg: CampaignConfig, role: string, usage: UsageSink) => createRoleClient(cfg, role, { usage }),
  };
  const ledger = new RequestLedger(db, { campaignId, iteration, stage: stageName, batchIndex: null });
  return buildStageContext({ campaignId, iteration, config, stage, signal: new AbortController().signal, deps, ledger, policyVersionId }).ctx;
}

/** Plans the stage's selection the way the framework does, then runs every batch. */
export async function planAndRun<S extends StageEntry>(
  db: Db,
  ctx: StageContext<S>,
  handler: StageHandler<S, unknown>,
  onReport: (batchIndex: number, details: unknown) => void = () => undefined,
  /** Gets each batch's first noted failure, as the framework keeps them for finalize (StageNotes). */
  firstFailures?: string[],
): Promise<BatchResult[]> {
  const spec = STAGE_SPECS.find((s) => s.name === ctx.stage.name)!;
  if (spec.reads.kind !== "samples") throw new Error(`${spec.name} does not read samples`);
  const plan = await planSelection(
    db,
    { campaignId: ctx.campaignId, iteration: ctx.iteration, stage: ctx.stage.name },
    spec.reads.selection(ctx.stage as never),
    ctx.stage.batchSize,
    false,
  );
  const out: BatchResult[] = [];
  for (let b = 0; b < plan.batches; b++) {
    let first: string | undefined;
    const progress = { resumeFrom: undefined, report: (d: unknown) => onReport(b, d), noteFailure: (m: string) => void (first ??= m) };
    out.push(await handler.runBatch(ctx, b, progress));
    if (first !== undefined) firstFailures?.push(first);
  }
  return out;
}

const LOCATION_TOOLS = EXAMPLE_TOOLS.map((t) => t.tool).filter((t) => (t.inputSchema.required as string[] | undefined)?.includes("location"));

export interface SeedSample {
  id: string;
  messages: ChatMessage[];
  tools: McpTool[];
  /** The user's request text. */
  query: string;
}

/** `n` standard samples from the simulator's generator, stored verified and put in the iteration's pool (reason seed) unless `store` is false. */
export async function seedPool(
  db: Db,
  generator: LlmClient,
  campaignId: string,
  n: number,
  opts: { iteration?: number; offset?: number; store?: boolean } = {},
): Promise<SeedSample[]> {
  const out: SeedSample[] = [];
  const iteration = opts.iteration ?? 1;
  for (let k = 0; k < n; k++) {
    const i = k + (opts.offset ?? 0);
    // The generator's answer is a function of the request: a different offered tool makes a different sample.
    const target = LOCATION_TOOLS[i % LOCATION_TOOLS.length]!;
    const others = EXAMPLE_TOOLS.map((t) => t.tool).filter((t) => t.name !== target.name);
    const other = others[Math.floor(i / LOCATION_TOOLS.length) % others.length]!;
    const s = await synthesizeSingleTurn({ kind: "standard", targets: [target], offered: [target, other], generator });
    out.push({ id: sampleId(campaignId, s), messages: s.messages, tools: s.tools, query: queryOf(s.messages) });
  }
  if (opts.store !== false) await storeSeeds(db, campaignId, out, iteration);
  return out;
}

export async function storeSeeds(db: Db, campaignId: string, seeds: SeedSample[], iteration = 1): Promise<void> {
  await insertSamples(
    db,
    seeds.map((s) => ({
      id: s.id,
      campaignId,
      iteration,
      kind: "standard",
      origin: "synthesized",
      stage: "synthesize.singleTurn",
      messages: s.messages,
      tools: s.tools,
      status: "verified" as const,
    })),
  );
  await insertPoolMembers(
    db,
    seeds.map((s) => ({ campaignId, iteration, sampleId: s.id, reason: "seed" as const })),
  );
}

export function queryOf(messages: readonly ChatMessage[]): string {
  return messages.find((m) => m.role === "user")?.content ?? "";
}

/**
 * The same sample with its label's `location` argument replaced: schema-valid (a string), so the
 * rules pass it, but not what the user asked for. A new content, so a new id.
 */
export function withWrongLocation(campaignId: string, s: SeedSample, wrong = "Atlantis, Nowhere"): SeedSample {
  const messages = s.messages.map((m) => {
    if (m.role !== "assistant" || !m.tool_calls) return m;
    return {
      ...m,
      tool_calls: m.tool_calls.map((c, i) =>
        i === 0 ? { ...c, function: { ...c.function, arguments: JSON.stringify({ ...JSON.parse(c.function.arguments), location: wrong }) } } : c,
      ),
    };
  });
  return { id: sampleId(campaignId, { messages, tools: s.tools }), messages, tools: s.tools, query: s.query };
}

/** Records that probe.greedy found `prediction` (not the label) for a sample in iteration 1: a planted mismatch. */
export async function plantMismatch(db: Db, campaignId: string, sampleId: string, prediction: AssistantAnswer, reasons: MatchReason[]): Promise<void> {
  await insertProbeResults(db, [{ campaignId, iteration: 1, sampleId, model: "toolloop-sim-policy", modelVersionId: null, match: false, prediction, reasons }]);
}

/** A one-tool library for tests that plant their own weather questions and calls. */
export const WEATHER_TOOL: McpTool = {
  name: "get_weather",
  description: "Current weather in a city",
  inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

/** The call of WEATHER_TOOL for `city` (id c0). */
export function weatherCall(city: string): { id: string; type: "function"; function: { name: string; arguments: string } } {
  return { id: "c0", type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city }) } };
}

/** A verified iteration-1 sample asking the weather in `city`, labelled with weatherCall(city); its id is `<campaignId>-<city>`. */
export function weatherSample(campaignId: string, city: string): NewSample {
  return {
    id: `${campaignId}-${city}`,
    campaignId,
    iteration: 1,
    kind: "standard",
    origin: "synthesized",
    status: "verified",
    tools: [WEATHER_TOOL],
    messages: [
      { role: "user", content: `What is the weather in ${city}?` },
      { role: "assistant", content: null, tool_calls: [weatherCall(city)] },
    ],
  };
}

/**
 * serve.policy's row for iteration 1's policy at `url`, as a serving of the weights `fingerprint`:
 * one version id for every serving of the iteration, the checkpoint's fingerprint telling the weights apart.
 */
export function servePolicyWeights(db: Db, p: { campaignId: string; url: string }, fingerprint: string): Promise<string> {
  return upsertModelVersion(db, {
    campaignId: p.campaignId,
    iteration: 1,
    kind: "served",
    baseModel: "toolloop-sim-policy",
    path: "/checkpoints/merged",
    url: p.url,
    servedModel: "toolloop-sim-policy",
    details: { engine: "vllm", checkpoint: { fingerprint } },
  });
}
