/**
 * Whether the exported sets hold one training batch of the iteration's train stages. verl's trainers
 * read with drop_last: a train split smaller than `trainBatchSize` gives no batch at all, and verl stops
 * (GRPO: `AssertionError: Train dataloader is empty!`; SFT: no step). The stand-in trainer runs one
 * short step instead. In a long loop this is how a shrinking pool first hurts (select.nextRound's
 * pool-shortfall warning), so export.verl's summary says it before the training job starts.
 */
import { runsInIteration } from "../../../framework/stageSpec.js";

/** The parts of a campaign's stages the check reads (train.sft's `sft`, train.grpo's `grpo`). */
export interface TrainStageLike {
  name: string;
  runIn?: "first" | "later" | "every";
  trainer?: string;
  sft?: { trainBatchSize: number };
  grpo?: { trainBatchSize: number };
}

export interface ExportedRows {
  /** GRPO train rows (hard items repeated). */
  train: number;
  /** Validation rows (GRPO's data.val_files; verl 0.9.1 also stops on an empty one: `Validation dataloader is empty!`). */
  val: number;
  /** SFT rows (the train split), when the SFT set was written. */
  sft: number;
}

/** Each train stage of `iteration` whose set is smaller than its batch: "SFT set 14 < train.sft's sft.trainBatchSize 32". */
export function batchShortfalls(
  stages: readonly TrainStageLike[],
  iteration: number,
  rows: ExportedRows,
): { text: string; standin: boolean; validation: boolean }[] {
  const out: { text: string; standin: boolean; validation: boolean }[] = [];
  for (const s of stages) {
    if (!runsInIteration({ runIn: s.runIn === "every" ? undefined : s.runIn }, iteration)) continue;
    const check =
      s.name === "train.grpo" && s.grpo
        ? { field: "grpo.trainBatchSize", batch: s.grpo.trainBatchSize, rows: rows.train, set: "train split" }
        : s.name === "train.sft" && s.sft
          ? { field: "sft.trainBatchSize", batch: s.sft.trainBatchSize, rows: rows.sft, set: "SFT set" }
          : undefined;
    if (s.name === "train.grpo" && s.grpo && rows.val === 0)
      out.push({ text: "validation split 0 (train.grpo validates on it)", standin: s.trainer === "standin", validation: true });
    if (!check || check.rows >= check.batch) continue;
    out.push({ text: `${check.set} ${check.rows} < ${s.name}'s ${check.field} ${check.batch}`, standin: s.trainer === "standin", validation: false });
  }
  return out;
}

/** The summary warning: the sets short of a batch, what verl does with them, what to change; undefined when every set holds a batch. */
export function batchShortfallWarning(stages: readonly TrainStageLike[], iteration: number, rows: ExportedRows): string | undefined {
  const short = batchShortfalls(stages, iteration, rows);
  if (short.length === 0) return undefined;
  const batches = short.filter((s) => !s.validation);
  const validation = short.filter((s) => s.validation);
  const parts: string[] = [];
  if (batches.length > 0) {
    const standin = batches.every((s) => s.standin) ? "; the SIMULATED stand-in trainer runs one short step instead" : "";
    parts.push(
      `fewer rows than one training batch: ${batches.map((s) => s.text).join(", ")}. ` +
        `verl drops the incomplete batch, so it would have none and stop (\`Train dataloader is empty!\`)${standin}. ` +
        "Lower the batch size or give the pool more samples (see select.nextRound's warning)",
    );
  }
  if (validation.length > 0) {
    const standin = validation.every((s) => s.standin) ? "; the SIMULATED stand-in trainer skips validation instead" : "";
    parts.push(
      `no validation rows (the pool is too small to hold any out, or valFraction is 0): verl's GRPO trainer stops before its first step ` +
        `(\`Validation dataloader is empty!\`)${standin}. Give the pool more samples or raise valFraction`,
    );
  }
  return parts.join(". ");
}
