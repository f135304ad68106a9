/**
 * Stage name -> handler, for workers only (handlers do I/O). `satisfies` makes a spec without a
 * handler, or a handler without a spec, a compile error.
 */
import type { ClusterJobHandler } from "../framework/clusterJob.js";
import type { StageHandler } from "../framework/stage.js";
import { dedupeExactHandler } from "./dedupe/exact/handler.js";
import { evaluateBfclHandler } from "./evaluate/bfcl/handler.js";
import { evaluateBfclFastHandler } from "./evaluate/bfclFast/handler.js";
import { exportDatasetHandler } from "./export/dataset/handler.js";
import { exportVerlHandler } from "./export/verl/handler.js";
import type { StageConfigOf, StageName } from "./specs.js";
import { scoreConsistencyHandler } from "./score/consistency/handler.js";
import { scorePerplexityHandler } from "./score/perplexity/handler.js";
import { synthesizeSingleTurnHandler } from "./synthesize/singleTurn/handler.js";
import { synthesizeMultiTurnHandler } from "./synthesize/multiTurn/handler.js";
import { verifyRulesHandler } from "./verify/rules/handler.js";
import { verifyJudgesHandler } from "./verify/judges/handler.js";
import { expandErrorsHandler } from "./expand/errors/handler.js";
import { selectNextRoundHandler } from "./select/nextRound/handler.js";
import { probeGreedyHandler } from "./probe/greedy/handler.js";
import { repairLabelsHandler } from "./repair/labels/handler.js";
import { servePolicyHandler } from "./serve/policy/handler.js";
import { trainGrpoHandler } from "./train/grpo/handler.js";
import { trainMergeHandler } from "./train/merge/handler.js";
import { trainSftHandler } from "./train/sft/handler.js";

export const STAGE_HANDLERS = {
  "synthesize.singleTurn": synthesizeSingleTurnHandler,
  "synthesize.multiTurn": synthesizeMultiTurnHandler,
  "verify.rules": verifyRulesHandler,
  "verify.judges": verifyJudgesHandler,
  "dedupe.exact": dedupeExactHandler,
  "export.dataset": exportDatasetHandler,
  "evaluate.bfcl": evaluateBfclHandler,
  "evaluate.bfclFast": evaluateBfclFastHandler,
  "export.verl": exportVerlHandler,
  "train.sft": trainSftHandler,
  "train.grpo": trainGrpoHandler,
  "train.merge": trainMergeHandler,
  "serve.policy": servePolicyHandler,
  "select.nextRound": selectNextRoundHandler,
  "expand.errors": expandErrorsHandler,
  "probe.greedy": probeGreedyHandler,
  "repair.labels": repairLabelsHandler,
  "score.perplexity": scorePerplexityHandler,
  "score.consistency": scoreConsistencyHandler,
  // Handlers differ in their progress-detail type; the map only fixes the config type per name.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
} satisfies { [N in StageName]: StageHandler<StageConfigOf<N>, any> | ClusterJobHandler<StageConfigOf<N>> };
