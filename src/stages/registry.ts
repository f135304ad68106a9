/** Stage name -> handler. The config schema and STAGE_CATALOG list the same names. */
import type { StageName } from "../config/campaignConfig.js";
import { evaluateBfclStage } from "./evaluateBfcl.js";
import { evaluateProbeStage } from "./evaluateProbe.js";
import { exportDatasetStage } from "./exportDataset.js";
import { synthesizeSingleTurnStage } from "./synthesizeSingleTurn.js";
import type { StageHandler } from "./types.js";
import { verifyRulesStage } from "./verifyRules.js";

// Handlers are typed by their own stage config; the registry erases that, and the activity that
// looks a handler up passes it the config entry with the same name.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStageHandler = StageHandler<any, any>;

export const STAGE_HANDLERS: Record<StageName, AnyStageHandler> = {
  "synthesize.singleTurn": synthesizeSingleTurnStage,
  "verify.rules": verifyRulesStage,
  "export.dataset": exportDatasetStage,
  "evaluate.bfcl": evaluateBfclStage,
  "evaluate.probe": evaluateProbeStage,
};
