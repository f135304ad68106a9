/**
 * `deleteCheckpointsAfterMerge` of train.sft and train.merge: once a merged model is recorded, the
 * checkpoint steps it was merged from are deleted and the deletion is recorded on the version they
 * were saved for (model_versions details.checkpointsDeleted), where `model list` shows it.
 */
import { checkpointsDeletedOf, recordCheckpointsDeleted, type ModelVersionRow } from "../../db/repos/modelVersions.js";
import type { Db } from "../../db/client.js";
import { StageInputError } from "../../framework/stage.js";
import { CheckpointRetentionError, deleteCheckpoints, type DeletedCheckpoints } from "../../training/checkpointRetention.js";
import { formatBytes } from "../../util/jsonFile.js";

export interface FreedCheckpoints {
  steps: number[];
  bytes: number;
}

/**
 * Deletes the steps under `checkpointDir` and records it on `version`. A re-run (a retried collect)
 * finds nothing left and keeps the first record, so the summary still says what was freed.
 */
export async function deleteCheckpointsAfterMerge(
  deps: { db: Db; log: (line: string) => void },
  where: { stage: string; campaignId: string; iteration: number },
  version: Pick<ModelVersionRow, "id" | "details">,
  checkpointDir: string,
  mergedModel: string,
): Promise<FreedCheckpoints> {
  let deleted: DeletedCheckpoints;
  try {
    deleted = await deleteCheckpoints(checkpointDir, mergedModel);
  } catch (err) {
    if (err instanceof CheckpointRetentionError) throw new StageInputError(err.message);
    throw err;
  }
  const earlier = checkpointsDeletedOf(version);
  if (earlier && deleted.steps.length === 0 && deleted.bytes === 0) return { steps: earlier.steps, bytes: earlier.bytes };
  await recordCheckpointsDeleted(deps.db, version.id, deleted);
  const steps = deleted.steps.map((s) => `global_step_${s}`).join(", ") || "no complete step";
  deps.log(
    `[${where.stage}] ${where.campaignId} iteration ${where.iteration}: deleted the checkpoints (${steps}; ${formatBytes(deleted.bytes)}) under ${checkpointDir}; the merged model ${mergedModel} is kept (deleteCheckpointsAfterMerge)`,
  );
  return { steps: deleted.steps, bytes: deleted.bytes };
}
