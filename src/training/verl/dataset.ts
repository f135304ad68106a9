/**
 * The verl dataset of one iteration: train.parquet and val.parquet in verl's row schema (rows.ts),
 * sample_ids.txt, an optional SFT set (sft.jsonl, chat format with the label turn, train split only)
 * and manifest.json describing them (counts, sha256 and size of each file, the split's salt and
 * fraction, provenance). Every file goes to a temporary name in the same folder and is renamed into
 * place, the manifest last, so a crash never leaves a half-written file under a final name and a
 * manifest never describes files it did not hash.
 */
import { stringifyJson } from "../../jsonSchema/exactNumbers.js";
import { createHash } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { RoleProvenance } from "../../provenance/provenance.js";
import type { ChatMessage, OpenAiTool } from "../../domain/types.js";
import { sha256Hex } from "../../util/ids.js";
import { withPromptTurnsUntrained, type UntrainedAssistant } from "../../export/trainingMessages.js";
import { encodeSftParquet, encodeVerlParquet } from "./parquet.js";
import { prepareSample, toVerlRow, type PreparedSample, type ToolsInPrompt, type VerlSourceSample, type VerlSplit } from "./rows.js";
import { SPLIT_SALT, splitByKey } from "./split.js";
import { DecontaminationTally, type Decontamination, type DecontaminationRecord } from "../../export/decontamination.js";
import { MAX_POOL_WEIGHT_REPEATS } from "../../selection/poolWeight.js";
import { sweepStaleTemps, syncDir, tempPath } from "../../util/atomicFiles.js";

export const VERL_DATASET_FORMAT = "toolloop-verl/v1";

export const VERL_FILE_NAMES = {
  train: "train.parquet",
  val: "val.parquet",
  sft: "sft.jsonl",
  sftParquet: "sft.parquet",
  sampleIds: "sample_ids.txt",
  manifest: "manifest.json",
} as const;

export interface VerlFileEntry {
  /** Basename, next to the manifest. */
  name: string;
  sha256: string;
  bytes: number;
}

export interface VerlProvenance {
  campaignId: string;
  iteration: number;
  /** The export stage's seed (its `seed`, else the campaign's); recorded only: the split does not use it (split.ts). */
  seed: number;
  /** sha256 of the frozen campaign config in force for the iteration. */
  configHash?: string;
  /** Role -> model of the campaign that produced the samples. */
  models?: Record<string, string>;
  /** True when the samples came from simulated models (any role answered by the LLM simulator). */
  simulated?: boolean;
  /** The campaign's seed (`seed` above is the stage's). */
  campaignSeed?: number;
  configVersion?: number;
  /** Package version and git commit of the code that wrote it. */
  code?: { version: string; commit: string | null };
  /** Role -> model, endpoint name and URL (never a key). */
  roles?: Record<string, RoleProvenance>;
  /** Role -> whether the LLM simulator answered any of its requests so far. */
  simulatedRoles?: Record<string, boolean>;
}

export interface VerlManifest {
  format: typeof VERL_DATASET_FORMAT;
  counts: { train: number; val: number; sft: number };
  files: { train: VerlFileEntry; val: VerlFileEntry; sft?: VerlFileEntry; sftParquet?: VerlFileEntry; sampleIds: VerlFileEntry };
  /** sha256 over the sorted ids of the written samples joined by "\n" (sample_ids.txt without its last newline). */
  idsSha256: string;
  /**
   * The split rule (split.ts): validation iff sha256(salt, key) as a fraction is below valFraction.
   * `seed` is recorded for older readers and does not choose the split; manifests written before the
   * salt existed have none (their split was ranked by seed).
   */
  split: { salt?: string; seed: number; valFraction: number };
  /** Samples that could not become a row (no label turn, arguments that are not JSON, a repeated id): the count and the first few. */
  skipped: { count: number; examples: { sampleId: string; reason: string }[] };
  /** Samples left out as BFCL test items (a question or a function signature of the categories'); absent in manifests written before it existed. */
  decontamination?: VerlDecontamination;
  provenance: VerlProvenance;
  createdAt: string;
}

/** One SFT line: what chat fine-tuning reads, the label turn included. */
export interface VerlSftLine {
  /** Assistant turns before the label carry `weight: 0` (a multi-turn sample's earlier turns are prompt). */
  messages: (ChatMessage | UntrainedAssistant)[];
  tools: OpenAiTool[];
}

/** Samples left out as BFCL test items (src/export/decontamination.ts, shared with export.dataset). */
export type VerlDecontamination = DecontaminationRecord;

export interface WriteVerlDatasetParams {
  samples: AsyncIterable<VerlSourceSample> | Iterable<VerlSourceSample>;
  dir: string;
  /** Share of samples held out for validation, in [0, 1). */
  valFraction: number;
  seed: number;
  /** Also write the SFT set (train split). */
  sft?: boolean;
  /** Where the prompt shows the tools (default: Hermes-style in the system turn). */
  toolsInPrompt?: ToolsInPrompt;
  provenance: Omit<VerlProvenance, "seed">;
  /** Leave out the samples this index finds to be BFCL test items (none when off or absent). */
  decontamination?: Decontamination | { enabled: false };
  signal?: AbortSignal;
  onProgress?: (samplesRead: number) => void;
}

const MAX_SKIPPED_EXAMPLES = 20;
const PROGRESS_EVERY = 1000;

export function verlDatasetPaths(dir: string) {
  const at = (name: string) => path.join(dir, name);
  return {
    dir,
    manifest: at(VERL_FILE_NAMES.manifest),
    train: at(VERL_FILE_NAMES.train),
    val: at(VERL_FILE_NAMES.val),
    sampleIds: at(VERL_FILE_NAMES.sampleIds),
    sft: at(VERL_FILE_NAMES.sft),
    sftParquet: at(VERL_FILE_NAMES.sftParquet),
  };
}

async function writeTemp(file: string, data: Uint8Array | string): Promise<{ sha256: string; bytes: number }> {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  await writeFile(file, bytes, { flag: "wx", flush: true });
  return { sha256: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
}

async function readSamples(p: WriteVerlDatasetParams): Promise<{
  prepared: Map<string, PreparedSample>;
  repeats: Map<string, number>;
  groups: Map<string, string>;
  skipped: VerlManifest["skipped"];
  decontamination: VerlDecontamination;
}> {
  const prepared = new Map<string, PreparedSample>();
  const repeats = new Map<string, number>();
  const groups = new Map<string, string>();
  const skipped: VerlManifest["skipped"] = { count: 0, examples: [] };
  const skip = (sampleId: string, reason: string) => {
    skipped.count++;
    if (skipped.examples.length < MAX_SKIPPED_EXAMPLES) skipped.examples.push({ sampleId, reason });
  };
  const tally = new DecontaminationTally(p.decontamination);
  let read = 0;
  for await (const s of p.samples) {
    p.signal?.throwIfAborted();
    const result = prepareSample(s, p.toolsInPrompt);
    const id = typeof s?.id === "string" ? s.id : `#${read}`;
    // Checked only once the sample is known to be well formed (prepareSample read its messages).
    if (!result.ok) skip(id, result.reason);
    else if (!tally.excludes(id, s)) {
      if (prepared.has(result.sample.id)) skip(id, "id: repeated (the first one is kept)");
      else {
        prepared.set(result.sample.id, result.sample);
        const r = s.repeats;
        if (r !== undefined && Number.isInteger(r) && r > 1) repeats.set(result.sample.id, Math.min(r, MAX_POOL_WEIGHT_REPEATS));
        if (typeof s.group === "string" && s.group !== "") groups.set(result.sample.id, s.group);
      }
    }
    if (++read % PROGRESS_EVERY === 0) p.onProgress?.(read);
  }
  if (read % PROGRESS_EVERY !== 0 || read === 0) p.onProgress?.(read);
  return { prepared, repeats, groups, skipped, decontamination: tally.record ?? { enabled: false } };
}

/** Train ids with each weighted sample repeated in place (the split itself is by distinct sample). */
function withRepeats(ids: string[], repeats: Map<string, number>): string[] {
  if (repeats.size === 0) return ids;
  return ids.flatMap((id) => Array<string>(repeats.get(id) ?? 1).fill(id));
}

function parquetOf(ids: string[], split: VerlSplit, prepared: Map<string, PreparedSample>): Uint8Array {
  return encodeVerlParquet(ids.map((id, index) => toVerlRow(prepared.get(id)!, split, index)));
}

function sftLines(ids: string[], prepared: Map<string, PreparedSample>): string {
  return ids
    .map((id) => {
      const s = prepared.get(id)!;
      return stringifyJson({ messages: withPromptTurnsUntrained(s.messages), tools: s.openAiTools } satisfies VerlSftLine) + "\n";
    })
    .join("");
}

/**
 * Writes the dataset into `dir`, replacing an earlier one. On any failure the temp files are removed
 * and the final names are left as they were, except that the previous manifest may be gone (never a
 * manifest pointing at files it did not describe).
 */
export async function writeVerlDataset(p: WriteVerlDatasetParams): Promise<VerlManifest> {
  // Validates the fraction and seed before any I/O.
  splitByKey([], p.valFraction);
  if (!Number.isSafeInteger(p.seed)) throw new RangeError(`seed: expected an integer, got ${p.seed}`);
  p.signal?.throwIfAborted();
  await mkdir(p.dir, { recursive: true });
  await sweepStaleTemps(p.dir, Object.values(VERL_FILE_NAMES));

  const { prepared, repeats, groups, skipped, decontamination } = await readSamples(p);
  // A dialogue's cuts stay on one side: a later cut's prompt holds the earlier cuts' labels.
  const distinct = splitByKey([...prepared.keys()], p.valFraction, (id) => groups.get(id));
  // Weighted samples train more often; validation stays one row per sample.
  const split = { train: withRepeats(distinct.train, repeats), val: distinct.val };
  const allIds = [...prepared.keys()].sort();
  const idsText = allIds.join("\n");

  const temps = {
    train: tempPath(p.dir, VERL_FILE_NAMES.train),
    val: tempPath(p.dir, VERL_FILE_NAMES.val),
    sampleIds: tempPath(p.dir, VERL_FILE_NAMES.sampleIds),
    sft: tempPath(p.dir, VERL_FILE_NAMES.sft),
    sftParquet: tempPath(p.dir, VERL_FILE_NAMES.sftParquet),
    manifest: tempPath(p.dir, VERL_FILE_NAMES.manifest),
  };
  try {
    const train = await writeTemp(temps.train, parquetOf(split.train, "train", prepared));
    p.signal?.throwIfAborted();
    const val = await writeTemp(temps.val, parquetOf(split.val, "val", prepared));
    const sampleIds = await writeTemp(temps.sampleIds, allIds.length === 0 ? "" : idsText + "\n");
    let sft: { sha256: string; bytes: number } | undefined;
    let sftParquet: { sha256: string; bytes: number } | undefined;
    if (p.sft) {
      sft = await writeTemp(temps.sft, sftLines(split.train, prepared));
      sftParquet = await writeTemp(temps.sftParquet, encodeSftParquet(split.train.map((id) => ({ messages: prepared.get(id)!.sftMessages, sample_id: id }))));
    }
    const manifest: VerlManifest = {
      format: VERL_DATASET_FORMAT,
      counts: { train: split.train.length, val: split.val.length, sft: sft ? split.train.length : 0 },
      files: {
        train: { name: VERL_FILE_NAMES.train, ...train },
        val: { name: VERL_FILE_NAMES.val, ...val },
        ...(sft ? { sft: { name: VERL_FILE_NAMES.sft, ...sft } } : {}),
        ...(sftParquet ? { sftParquet: { name: VERL_FILE_NAMES.sftParquet, ...sftParquet } } : {}),
        sampleIds: { name: VERL_FILE_NAMES.sampleIds, ...sampleIds },
      },
      idsSha256: sha256Hex(idsText),
      split: { salt: SPLIT_SALT, seed: p.seed, valFraction: p.valFraction },
      skipped,
      decontamination,
      provenance: { ...p.provenance, seed: p.seed },
      createdAt: new Date().toISOString(),
    };
    await writeTemp(temps.manifest, JSON.stringify(manifest, null, 2) + "\n");
    p.signal?.throwIfAborted();
    const final = verlDatasetPaths(p.dir);
    // The old manifest goes first: between the renames there are new files and no manifest, never a
    // manifest whose hashes do not match the files beside it.
    await rm(final.manifest, { force: true });
    await rename(temps.train, final.train);
    await rename(temps.val, final.val);
    await rename(temps.sampleIds, final.sampleIds);
    if (sft) await rename(temps.sft, final.sft);
    else await rm(final.sft, { force: true });
    if (sftParquet) await rename(temps.sftParquet, final.sftParquet);
    else await rm(final.sftParquet, { force: true });
    await rename(temps.manifest, final.manifest);
    await syncDir(p.dir);
    return manifest;
  } finally {
    // No-ops after the renames; after a failure they remove the partial files.
    await Promise.all(Object.values(temps).map((t) => rm(t, { force: true })));
  }
}
