/**
 * evaluate.bfcl: the official bfcl-eval package scores the policy on the configured BFCL categories.
 * A batch owns a few categories; each category has its own bfcl-eval project root under
 * `<output>/<campaign>/iter-N/bfcl/<category>/`, so parallel batches never share a file. bfcl-eval
 * skips ids already in its result file, so a retried batch only generates what is missing.
 * finalize computes the overall score (RULES.md) and checks it against the package's own summary.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { CampaignConfig } from "../../../config/campaignConfig.js";
import type { StageConfigOf } from "../../specs.js";
import { listBfclScores, upsertBfclScores, type BfclScoreRow } from "../../../db/repos/bfclScores.js";
import {
  BFCL_REGISTRY_NAME,
  BfclEvalError,
  bfclPackageInfo,
  countResultLines,
  ensureBfclPython,
  packageCategoryIds,
  parseOverallCsv,
  readScoreFile,
  repairResultFile,
  resultFilePath,
  runBfcl,
  scoreFilePath,
  type BfclCommand,
  type BfclPackageInfo,
} from "../../../evaluation/bfclEval.js";
import { ALL_BFCL_CATEGORIES, LIVE, MULTI_TURN, NON_LIVE, packageCategoryName, type BfclCategory } from "../../../evaluation/categories.js";
import { compareSummaries, computeOverallV3, expectedPackageSummary, type CategoryScores, type DatasetSizes } from "../../../evaluation/score.js";
import { endpointRefusalAdvice } from "../../../framework/stageFailureAdvice.js";
import { StageInputError, type BatchResult, type StageContext, type StageHandler } from "../../../framework/stage.js";
import { resolveRole, RoleResolutionError, type ResolvedRole } from "../../../llm/roles.js";
import { servedBySimulator } from "../../../llm/servedBySimulator.js";
import { SIMULATED_SCORE_NOTE } from "../../../evaluation/simulatedScore.js";
import { writeFileAtomic } from "../../../util/atomicFiles.js";
import { sameServedCheckpoint, servedCheckpointFor, type ServedCheckpoint } from "../../../training/servedCheckpoint.js";

type EvalStage = StageConfigOf<"evaluate.bfcl">;
const EVALUATOR = "bfcl-eval" as const;

/** Heartbeat details: categories of this batch already scored, and progress in the current one. */
export interface BfclProgress {
  finished: string[];
  category?: string;
  done: number;
  total: number;
  /** Entries of the batch settled: its finished categories' and the current one's done (what `campaign status` adds up). */
  settled?: number;
}

const PROGRESS_EVERY_MS = 2000;

/** Stored with every group row: its counts are sums, its accuracy is not their ratio. */
export const GROUP_COUNTS_NOTE =
  "correct and total are the entries summed over the categories scored (how many entries the group rests on); accuracy is the RULES.md formula over the category accuracies, not correct / total";

export function bfclIterationDir(ctx: Pick<StageContext, "deps" | "config" | "campaignId" | "iteration">): string {
  return path.resolve(ctx.deps.baseDir, ctx.config.output.dir, ctx.campaignId, `iter-${ctx.iteration}`, "bfcl");
}

function batchCategories(stage: EvalStage, batchIndex: number): BfclCategory[] {
  return stage.categories.slice(batchIndex * stage.batchSize, (batchIndex + 1) * stage.batchSize) as BfclCategory[];
}

/** How bfcl-eval reaches the policy: its endpoint, model name and key, from the campaign config. */
function policyTarget(config: CampaignConfig): { model: string; baseUrl: string; apiKey?: string; maxConcurrency: number } {
  let policy: ResolvedRole;
  try {
    policy = resolveRole(config, "policy");
  } catch (err) {
    if (err instanceof RoleResolutionError) throw new StageInputError(`evaluate.bfcl (the model to evaluate): ${err.message}`);
    throw err;
  }
  return { model: policy.roleConfig.model, baseUrl: policy.endpoint.baseUrl, apiKey: policy.apiKey, maxConcurrency: policy.endpoint.maxConcurrency };
}

/** The policy bfcl-eval asks, and (in the loop) the served checkpoint behind its name: what a stored result must be of to be reused. */
type PolicyTarget = ReturnType<typeof policyTarget> & { served: ServedCheckpoint | null };

/** Whether a stored category row was measured on this target (rows stored before the model was recorded name none). */
function measuredOn(row: BfclScoreRow, target: PolicyTarget): boolean {
  return (row.details?.model === undefined || row.details.model === target.model) && sameServedCheckpoint(row.details?.servedCheckpoint, target.served);
}

async function prepare(ctx: StageContext<EvalStage>): Promise<{ python: string; info: BfclPackageInfo; target: PolicyTarget }> {
  const target = { ...policyTarget(ctx.config), served: await servedCheckpointFor(ctx.deps.db, ctx.policyVersionId) };
  let python: string;
  let info: BfclPackageInfo;
  try {
    python = await ensureBfclPython(ctx.deps.log, ctx.signal);
    info = await bfclPackageInfo(python);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    // A missing or broken environment is a setup problem that a retry will not fix.
    throw new StageInputError(err instanceof Error ? err.message : String(err));
  }
  return { python, info, target };
}

export const evaluateBfclHandler: StageHandler<EvalStage, BfclProgress> = {
  name: "evaluate.bfcl",

  async plan(ctx) {
    // Also checks the policy role and the bfcl-eval environment before any batch starts.
    const { info } = await prepare(ctx);
    let items = 0;
    for (const category of ctx.stage.categories as BfclCategory[]) {
      const size = (await packageCategoryIds(info, packageCategoryName(category, info.layout))).length;
      items += ctx.stage.limitPerCategory ? Math.min(size, ctx.stage.limitPerCategory) : size;
    }
    return { batches: Math.ceil(ctx.stage.categories.length / ctx.stage.batchSize), items };
  },

  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    const categories = batchCategories(ctx.stage, batchIndex);
    if (categories.length === 0)
      throw new StageInputError(`batch ${batchIndex} is outside the plan (${ctx.stage.categories.length} categories, batchSize ${ctx.stage.batchSize})`);
    const { python, info, target } = await prepare(ctx);
    const iterDir = bfclIterationDir(ctx);
    const state: BfclProgress = { finished: [], done: 0, total: 0 };
    // Entries of the categories this batch finished; the current category adds its own done.
    let finishedEntries = 0;
    const report = () =>
      progress.report({
        ...state,
        finished: [...state.finished],
        settled: finishedEntries + (state.category !== undefined && !state.finished.includes(state.category) ? state.done : 0),
      });
    const totals = { items: 0, correct: 0, generated: 0, reused: 0, categories: 0 };
    // Categories an earlier attempt of this batch finished (heartbeat) and stored are not run again.
    const stored = await listBfclScores(ctx.deps.db, ctx.campaignId, ctx.iteration, EVALUATOR);
    const resumed = new Set(progress.resumeFrom?.finished ?? []);

    for (const category of categories) {
      const row = stored.find((r) => r.category === category);
      if (resumed.has(category) && row && measuredOn(row, target)) {
        Object.assign(totals, {
          items: totals.items + row.total,
          correct: totals.correct + row.correct,
          reused: totals.reused + row.total,
          categories: totals.categories + 1,
        });
        state.finished.push(category);
        finishedEntries += row.total;
        continue;
      }
      const r = await runCategory(ctx, {
        category,
        python,
        info,
        target,
        iterDir,
        state,
        report,
      });
      totals.items += r.total;
      totals.correct += r.correct;
      totals.generated += r.generated;
      totals.reused += r.reused;
      totals.categories++;
      state.finished.push(category);
      finishedEntries += r.total;
      report();
    }
    return totals;
  },

  async finalize(ctx) {
    const { python, info, target } = await prepare(ctx);
    const iterDir = bfclIterationDir(ctx);
    const rows = await listBfclScores(ctx.deps.db, ctx.campaignId, ctx.iteration, EVALUATOR);
    const scores: CategoryScores = {};
    const simulatedCategories = new Set<string>();
    for (const category of ctx.stage.categories as BfclCategory[]) {
      const row = rows.find((r) => r.category === category);
      if (!row) throw new StageInputError(`evaluate.bfcl: no bfcl-eval score stored for category "${category}" (iteration ${ctx.iteration})`);
      // A row of other weights (a retrain served under the same name since the batch ran) is not this policy's score.
      if (!measuredOn(row, target))
        throw new StageInputError(
          `evaluate.bfcl: the bfcl-eval score stored for category "${category}" (iteration ${ctx.iteration}) is of another model or served checkpoint than "${target.model}"${target.served ? ` (${target.served.modelVersionId}, ${target.served.fingerprint})` : ""}; re-run the stage's batches`,
        );
      scores[category] = { correct: row.correct, total: row.total, accuracy: row.accuracy };
      if (row.simulated) simulatedCategories.add(category);
    }
    const sizes = await datasetSizes(info);
    const ours = computeOverallV3(scores, sizes);

    const packageSummary = await packageOverall(ctx, { python, info, target, iterDir });
    const expected = expectedPackageSummary(scores, sizes, info.layout);
    const mismatches = compareSummaries(expected, packageSummary);
    if (mismatches.length > 0) {
      const fmt = (v: number | null | undefined) => (v === null || v === undefined ? "N/A" : `${(v * 100).toFixed(4)}%`);
      throw new StageInputError(
        `BFCL score cross-check failed against bfcl-eval ${info.version}'s data_overall.csv: ` +
          mismatches.map((m) => `${m.column}: toolloop ${fmt(m.ours)} vs bfcl-eval ${fmt(m.theirs)}`).join("; "),
      );
    }

    const group = (name: string, members: readonly BfclCategory[], accuracy: number): BfclScoreRow => {
      const present = members.filter((c) => scores[c]);
      return {
        campaignId: ctx.campaignId,
        iteration: ctx.iteration,
        evaluator: EVALUATOR,
        category: name,
        correct: present.reduce((a, c) => a + (scores[c]?.correct ?? 0), 0),
        total: present.reduce((a, c) => a + (scores[c]?.total ?? 0), 0),
        accuracy,
        details: {
          formula: "RULES.md (BFCL v3)",
          counts: GROUP_COUNTS_NOTE,
          missing: members.filter((c) => !scores[c]),
          packageVersion: info.version,
          model: target.model,
          endpoint: target.baseUrl,
          servedCheckpoint: target.served,
        },
        simulated: present.some((c) => simulatedCategories.has(c)),
      };
    };
    await upsertBfclScores(ctx.deps.db, [
      group("overall", ALL_BFCL_CATEGORIES, ours.overall),
      group("non_live", NON_LIVE, ours.nonLive),
      group("live", LIVE, ours.live),
      group("multi_turn", MULTI_TURN, ours.multiTurn),
    ]);

    return {
      evaluator: EVALUATOR,
      model: target.model,
      servedCheckpoint: target.served,
      packageVersion: info.version,
      limitPerCategory: ctx.stage.limitPerCategory ?? null,
      overall: ours.overall,
      nonLive: ours.nonLive,
      live: ours.live,
      multiTurn: ours.multiTurn,
      missingCategories: ours.missing,
      categories: scores,
      packageSummary: Object.fromEntries(Object.keys(expected).map((k) => [k, packageSummary[k] ?? null])),
      ...(simulatedCategories.size > 0 ? { simulated: true, simulatedNote: SIMULATED_SCORE_NOTE } : {}),
    };
  },
};

interface CategoryRun {
  category: BfclCategory;
  python: string;
  info: BfclPackageInfo;
  target: PolicyTarget;
  iterDir: string;
  state: BfclProgress;
  report(): void;
}

async function runCategory(ctx: StageContext<EvalStage>, run: CategoryRun): Promise<{ total: number; correct: number; generated: number; reused: number }> {
  const { category, info, state } = run;
  const stage = ctx.stage;
  const pkgCategory = packageCategoryName(category, info.layout);
  const root = path.join(run.iterDir, category);
  const resultDir = path.join(root, "result");
  const scoreDir = path.join(root, "score");
  await fsp.mkdir(root, { recursive: true });

  const allIds = await packageCategoryIds(info, pkgCategory);
  const ids = stage.limitPerCategory ? allIds.slice(0, stage.limitPerCategory) : allIds;
  if (stage.limitPerCategory) {
    // bfcl-eval's own way to run a subset: --run-ids reads this file from its project root.
    await fsp.writeFile(path.join(root, "test_case_ids_to_generate.json"), JSON.stringify({ [pkgCategory]: ids }, null, 1));
  }

  await setAsideOtherModelsResults(ctx, root, run.target);
  const resultFile = resultFilePath(resultDir, info, pkgCategory);
  const before = await repairResultFile(resultFile);
  const reused = ids.filter((id) => before.ids.has(id)).length;
  Object.assign(state, { category, done: reused, total: ids.length });
  run.report();
  if (before.dropped > 0)
    ctx.deps.log(`[bfcl] ${category}: dropped ${before.dropped} unusable result lines (cut short, duplicate or failed request); they will be generated again`);

  const cmd: BfclCommand = {
    python: run.python,
    projectRoot: root,
    model: run.target.model,
    baseUrl: run.target.baseUrl,
    apiKey: run.target.apiKey,
    signal: ctx.signal,
  };
  const threads = stage.threads ?? run.target.maxConcurrency;
  const timer = setInterval(() => {
    state.done = Math.min(ids.length, countResultLines(resultFile));
    run.report();
  }, PROGRESS_EVERY_MS);
  try {
    await runBfcl(cmd, [
      "generate",
      "--model",
      BFCL_REGISTRY_NAME,
      ...(stage.limitPerCategory ? ["--run-ids"] : ["--test-category", pkgCategory]),
      "--result-dir",
      resultDir,
      "--num-threads",
      String(threads),
      "--temperature",
      String(stage.temperature),
    ]);
  } finally {
    clearInterval(timer);
  }

  const after = await repairResultFile(resultFile);
  if (after.endpointErrors.length > 0) {
    const first = after.endpointErrors[0];
    // Every request gets this answer until the endpoint, the workers' environment or the config is fixed: ask the operator, do not retry.
    const policy = { onStageFailure: ctx.config.onStageFailure, campaignId: ctx.campaignId };
    throw new StageInputError(
      `evaluate.bfcl ${category}: the policy endpoint ${run.target.baseUrl} (roles.policy) refused ${after.endpointErrors.length} requests for model "${run.target.model}" ` +
        `(first: ${first?.id}: ${first?.message.slice(0, 300)}); ${endpointRefusalAdvice(first?.status, policy, { proxyFromEnvironment: true })}. ` +
        "The refused ids were removed from the result file and are generated again",
    );
  }
  if (after.transientErrors.length > 0) {
    const first = after.transientErrors[0];
    throw new BfclEvalError(
      `${category}: ${after.transientErrors.length} requests to ${run.target.baseUrl} failed (first: ${first?.id}: ${first?.message.slice(0, 300)}); ` +
        "they were removed from the result file and a retry generates only them",
    );
  }
  const missing = ids.filter((id) => !after.ids.has(id));
  if (missing.length > 0)
    throw new BfclEvalError(
      `${category}: bfcl-eval finished without results for ${missing.length} ids (e.g. ${missing.slice(0, 3).join(", ")}); see ${path.join(root, "bfcl.log")}`,
    );
  state.done = ids.length;
  run.report();

  await runBfcl(cmd, [
    "evaluate",
    "--model",
    BFCL_REGISTRY_NAME,
    "--test-category",
    pkgCategory,
    "--result-dir",
    resultDir,
    "--score-dir",
    scoreDir,
    ...(stage.limitPerCategory ? ["--partial-eval"] : []),
  ]);
  const scoreFile = scoreFilePath(scoreDir, info, pkgCategory);
  const score = await readScoreFile(scoreFile);
  // bfcl-eval talked to the policy itself, so ask the endpoint that answered it whether it is the simulator.
  const simulated = (await servedBySimulator(run.target.baseUrl, { apiKey: run.target.apiKey, signal: ctx.signal })) === true;
  if (simulated) ctx.deps.log(`[bfcl] ${category}: ${SIMULATED_SCORE_NOTE}`);
  if (score.total !== ids.length) throw new BfclEvalError(`${scoreFile}: bfcl-eval scored ${score.total} entries, expected ${ids.length}`);

  await upsertBfclScores(ctx.deps.db, [
    {
      campaignId: ctx.campaignId,
      iteration: ctx.iteration,
      evaluator: EVALUATOR,
      category,
      correct: score.correct,
      total: score.total,
      accuracy: score.accuracy,
      // The model bfcl-eval asked: its requests bypass toolloop's request ledger, so this is the only record of it.
      details: {
        packageCategory: pkgCategory,
        packageVersion: info.version,
        limitPerCategory: stage.limitPerCategory ?? null,
        scoreFile,
        model: run.target.model,
        endpoint: run.target.baseUrl,
        // The weights behind the name (null: the configured policy): a retrain served under the same name is another model.
        servedCheckpoint: run.target.served,
      },
      simulated,
    },
  ]);
  return { total: ids.length, correct: score.correct, generated: ids.length - reused, reused };
}

/** Names the model (and served checkpoint) a category folder's results are of; bfcl-eval's own files do not. */
const MODEL_MARKER = "evaluated-model.json";

/**
 * bfcl-eval resumes from whatever result file it finds, so answers of another model would be scored
 * as this model's: another roles.policy (a new config version re-runs the iteration), or other
 * weights under the same served name (a retrained iteration served again). They are moved to
 * `superseded/` and every id is generated again. A folder without the marker (written before it
 * existed) is kept for the configured policy, as before; for a served one it cannot be told which
 * weights answered, so it is set aside too.
 */
async function setAsideOtherModelsResults(ctx: StageContext<EvalStage>, root: string, target: PolicyTarget): Promise<void> {
  const marker = path.join(root, MODEL_MARKER);
  let previous: { model?: unknown; servedCheckpoint?: unknown } | undefined;
  try {
    const parsed: unknown = JSON.parse(await fsp.readFile(marker, "utf8"));
    previous = typeof parsed === "object" && parsed !== null ? (parsed as typeof previous) : {};
  } catch {
    previous = undefined;
  }
  const hasResults = ["result", "score"].some((dir) => fs.existsSync(path.join(root, dir)));
  const same = previous ? previous.model === target.model && sameServedCheckpoint(previous.servedCheckpoint, target.served) : target.served === null;
  if (!same && hasResults) {
    const previousModel = typeof previous?.model === "string" ? previous.model : "unmarked";
    const aside = path.join(root, "superseded", `${new Date().toISOString().replace(/[:.]/g, "-")}-${previousModel.replace(/[^\w.-]+/g, "_")}`);
    await fsp.mkdir(aside, { recursive: true });
    for (const dir of ["result", "score"]) if (fs.existsSync(path.join(root, dir))) await fsp.rename(path.join(root, dir), path.join(aside, dir));
    const served = target.served ? ` (served checkpoint ${target.served.modelVersionId}, ${target.served.fingerprint})` : "";
    ctx.deps.log(`[bfcl] ${path.basename(root)}: results of model "${previousModel}" moved to ${aside}; generating every id for "${target.model}"${served}`);
  }
  if (!same || !previous) await writeFileAtomic(marker, `${JSON.stringify({ model: target.model, servedCheckpoint: target.served })}\n`);
}

/** Entry count of every category in the package's data (the weight of a category left out). */
async function datasetSizes(info: BfclPackageInfo): Promise<DatasetSizes> {
  const sizes: DatasetSizes = {};
  for (const c of ALL_BFCL_CATEGORIES) sizes[c] = (await packageCategoryIds(info, packageCategoryName(c, info.layout))).length;
  return sizes;
}

/**
 * The package's own summary over this iteration's categories: their score files are gathered in one
 * score folder and `bfcl evaluate` runs with an empty result folder, which makes it evaluate nothing
 * and only rebuild data_overall.csv from the score files it finds.
 */
async function packageOverall(
  ctx: StageContext<EvalStage>,
  p: { python: string; info: BfclPackageInfo; target: PolicyTarget; iterDir: string },
): Promise<Record<string, number | null>> {
  const root = path.join(p.iterDir, "summary");
  await fsp.rm(root, { recursive: true, force: true });
  const resultDir = path.join(root, "result");
  const scoreDir = path.join(root, "score");
  await fsp.mkdir(resultDir, { recursive: true });
  for (const category of ctx.stage.categories as BfclCategory[]) {
    const from = path.join(p.iterDir, category, "score", BFCL_REGISTRY_NAME);
    if (!fs.existsSync(from)) throw new StageInputError(`evaluate.bfcl: score folder ${from} is missing; re-run the stage's batches`);
    await fsp.cp(from, path.join(scoreDir, BFCL_REGISTRY_NAME), { recursive: true });
  }
  const pkgCategories = (ctx.stage.categories as BfclCategory[]).map((c) => packageCategoryName(c, p.info.layout));
  await runBfcl({ python: p.python, projectRoot: root, model: p.target.model, baseUrl: p.target.baseUrl, apiKey: p.target.apiKey, signal: ctx.signal }, [
    "evaluate",
    "--model",
    BFCL_REGISTRY_NAME,
    "--test-category",
    pkgCategories.join(","),
    "--result-dir",
    resultDir,
    "--score-dir",
    scoreDir,
  ]);
  const csvFile = path.join(scoreDir, "data_overall.csv");
  let text: string;
  try {
    text = await fsp.readFile(csvFile, "utf8");
  } catch {
    throw new BfclEvalError(`bfcl-eval wrote no summary at ${csvFile}; see ${path.join(root, "bfcl.log")}`);
  }
  return parseOverallCsv(text, csvFile);
}
