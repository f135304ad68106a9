/**
 * Every built-in stage's spec, in one list: the config's `stages[]` union, the UI titles, the
 * scheduling workflows get and the "unknown stage" message are all derived from it. Pure (no I/O).
 * Adding a stage: its folder (spec.ts + handler.ts), one line here and one in handlers.ts.
 */
import type { StageSpec } from "../framework/stageSpec.js";
import { dedupeExactSpec } from "./dedupe/exact/spec.js";
import { evaluateBfclSpec } from "./evaluate/bfcl/spec.js";
import { evaluateBfclFastSpec } from "./evaluate/bfclFast/spec.js";
import { exportDatasetSpec } from "./export/dataset/spec.js";
import { exportVerlSpec } from "./export/verl/spec.js";
import { scoreConsistencySpec } from "./score/consistency/spec.js";
import { scorePerplexitySpec } from "./score/perplexity/spec.js";
import { synthesizeSingleTurnSpec } from "./synthesize/singleTurn/spec.js";
import { synthesizeMultiTurnSpec } from "./synthesize/multiTurn/spec.js";
import { verifyRulesSpec } from "./verify/rules/spec.js";
import { verifyJudgesSpec } from "./verify/judges/spec.js";
import { expandErrorsSpec } from "./expand/errors/spec.js";
import { selectNextRoundSpec } from "./select/nextRound/spec.js";
import { probeGreedySpec } from "./probe/greedy/spec.js";
import { repairLabelsSpec } from "./repair/labels/spec.js";
import { servePolicySpec } from "./serve/policy/spec.js";
import { trainGrpoSpec } from "./train/grpo/spec.js";
import { trainMergeSpec } from "./train/merge/spec.js";
import { trainSftSpec } from "./train/sft/spec.js";

export const STAGE_SPECS = [
  synthesizeSingleTurnSpec,
  synthesizeMultiTurnSpec,
  verifyRulesSpec,
  verifyJudgesSpec,
  dedupeExactSpec,
  exportDatasetSpec,
  evaluateBfclSpec,
  evaluateBfclFastSpec,
  exportVerlSpec,
  trainSftSpec,
  trainGrpoSpec,
  trainMergeSpec,
  servePolicySpec,
  selectNextRoundSpec,
  expandErrorsSpec,
  probeGreedySpec,
  repairLabelsSpec,
  scorePerplexitySpec,
  scoreConsistencySpec,
] as const;

export type BuiltInStageSpec = (typeof STAGE_SPECS)[number];
export type StageName = BuiltInStageSpec["name"];
type ConfigOf<S> = S extends StageSpec<string, infer C> ? C : never;
/** The config of one `stages[]` entry of the named stage (defaults applied). */
export type StageConfigOf<N extends StageName> = ConfigOf<Extract<BuiltInStageSpec, { name: N }>>;
export type StageConfig = { [N in StageName]: StageConfigOf<N> }[StageName];
