/**
 * Dataset export: streams rows to `<baseName>.jsonl` in the OpenAI fine-tuning chat format (messages +
 * tools), hashing as it writes, and describes the file in `<baseName>.manifest.json`. Both are written
 * to temporary files in the same directory and renamed into place, the manifest last, so a crash never
 * leaves a half-written file under a final name and a manifest never describes a file it did not hash.
 */
import { stringifyJson } from "../jsonSchema/exactNumbers.js";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { finished } from "node:stream/promises";
import { toOpenAiTool, type ChatMessage, type McpTool, type OpenAiTool, type SampleKind } from "../domain/types.js";
import { sha256Hex } from "../util/ids.js";
import type { DatasetRowFormat } from "./rowFormats.js";
import { withoutTaskMarkers, withPromptTurnsUntrained, type UntrainedAssistant } from "./trainingMessages.js";
import { STRICT_DATASET_FORMAT, strictLineProblems, toStrictLine, type StrictLine } from "./openaiStrict.js";
import { sweepStaleTemps, syncDir, tempPath } from "../util/atomicFiles.js";
import { DecontaminationTally, type Decontamination, type DecontaminationRecord } from "./decontamination.js";

export const DATASET_FORMAT = "openai-chat-tools/v1";

export { DATASET_ROW_FORMATS, type DatasetRowFormat } from "./rowFormats.js";

export interface ExportRow {
  id: string;
  /** A SampleKind; typed as string because rows come straight from the database column. */
  kind: SampleKind | string;
  status: string;
  messages: ChatMessage[];
  tools: McpTool[];
  metadata?: Record<string, unknown>;
  /**
   * Index of the label turn in `messages` (default: the last message; a row with an appended
   * trajectory has its label earlier). Assistant turns before it are prompt: exported with `weight: 0`.
   */
  labelIndex?: number;
}

export interface DatasetManifest {
  /** openai-chat-tools/v1 (rows with id, kind, metadata) or openai-chat-strict/v1 (only messages and tools). */
  format: typeof DATASET_FORMAT | typeof STRICT_DATASET_FORMAT;
  /** Basename of the JSONL file, next to the manifest. */
  file: string;
  sha256: string;
  bytes: number;
  rows: number;
  countsByKind: Record<string, number>;
  countsByStatus: Record<string, number>;
  /** sha256 over the sorted row ids joined by "\n": identifies the set of samples regardless of order. */
  idsSha256: string;
  createdAt: string;
  meta?: Record<string, unknown>;
  /** Samples left out as BFCL test items; absent when the export was given no setting (configs frozen before it, manifests before it). */
  decontamination?: DecontaminationRecord;
}

/** One JSONL line: what OpenAI fine-tuning reads (`messages`, `tools`) plus our id, kind and metadata. */
export interface DatasetLine {
  id: string;
  kind: SampleKind | string;
  /** Assistant turns before the label carry `weight: 0` (prompt, not a training target). */
  messages: (ChatMessage | UntrainedAssistant)[];
  tools: OpenAiTool[];
  metadata: Record<string, unknown>;
}

export interface ExportParams {
  rows: AsyncIterable<ExportRow>;
  dir: string;
  /** e.g. "dataset" -> dataset.jsonl + dataset.manifest.json */
  baseName: string;
  meta?: Record<string, unknown>;
  /** Row format (default `toolloop`). */
  format?: DatasetRowFormat;
  /** Leave out the rows this index finds to be BFCL test items, counted in the manifest; off or absent: none. */
  decontamination?: Decontamination | { enabled: false };
  onProgress?: (rowsWritten: number) => void;
  signal?: AbortSignal;
}

const PROGRESS_EVERY_ROWS = 1000;

export function datasetFileNames(baseName: string): { data: string; manifest: string } {
  return { data: `${baseName}.jsonl`, manifest: `${baseName}.manifest.json` };
}

export function toDatasetLine(row: ExportRow): DatasetLine {
  return {
    id: row.id,
    kind: row.kind,
    messages: withPromptTurnsUntrained(withoutTaskMarkers(row.messages), row.labelIndex),
    tools: row.tools.map(toOpenAiTool),
    metadata: { ...row.metadata, status: row.status },
  };
}

function checkRow(row: unknown, index: number): asserts row is ExportRow {
  const r = row as Partial<ExportRow> | null;
  const problem =
    typeof r !== "object" || r === null
      ? "must be an object"
      : typeof r.id !== "string" || r.id === ""
        ? "id: must be a non-empty string"
        : typeof r.kind !== "string"
          ? "kind: must be a string"
          : typeof r.status !== "string"
            ? "status: must be a string"
            : !Array.isArray(r.messages)
              ? "messages: must be a list"
              : !Array.isArray(r.tools)
                ? "tools: must be a list"
                : undefined;
  if (problem !== undefined) throw new Error(`export row ${index}${typeof r?.id === "string" && r.id !== "" ? ` (${r.id})` : ""}: ${problem}`);
}

interface WrittenData {
  sha256: string;
  bytes: number;
  rows: number;
  countsByKind: Record<string, number>;
  countsByStatus: Record<string, number>;
  ids: string[];
}

/** A strict row, checked against the schema so that a strict uploader never sees a row it rejects. */
function strictLineOf(row: ExportRow): StrictLine {
  const line = toStrictLine(withoutTaskMarkers(row.messages), row.tools, row.labelIndex);
  const problems = strictLineProblems(line);
  if (problems.length > 0) throw new Error(`export row ${row.id}: not a valid OpenAI fine-tuning row (openai-strict): ${problems.join("; ")}`);
  return line;
}

/** Streams every row `tally` keeps into `file` (a new temp file), respecting backpressure; fsyncs before returning. */
async function writeRows(file: string, p: ExportParams, tally: DecontaminationTally): Promise<WrittenData> {
  const stream = createWriteStream(file, { flags: "wx" });
  // Without a listener an 'error' event would crash the process; the awaits below surface it instead.
  let streamError: Error | undefined;
  stream.on("error", (err) => (streamError = err));
  const hash = createHash("sha256");
  const out: WrittenData = { sha256: "", bytes: 0, rows: 0, countsByKind: {}, countsByStatus: {}, ids: [] };
  const lineOf = p.format === "openai-strict" ? strictLineOf : toDatasetLine;
  let read = 0;
  try {
    for await (const row of p.rows) {
      p.signal?.throwIfAborted();
      if (streamError) throw streamError;
      checkRow(row, read++);
      if (tally.excludes(row.id, row)) continue;
      const chunk = Buffer.from(stringifyJson(lineOf(row)) + "\n", "utf8");
      hash.update(chunk);
      out.bytes += chunk.length;
      out.rows++;
      out.countsByKind[row.kind] = (out.countsByKind[row.kind] ?? 0) + 1;
      out.countsByStatus[row.status] = (out.countsByStatus[row.status] ?? 0) + 1;
      out.ids.push(row.id);
      if (!stream.write(chunk)) await once(stream, "drain", p.signal ? { signal: p.signal } : {});
      if (out.rows % PROGRESS_EVERY_ROWS === 0) p.onProgress?.(out.rows);
    }
    stream.end();
    await finished(stream);
  } catch (err) {
    stream.destroy();
    // Let the descriptor close before the caller removes the file.
    await finished(stream).catch(() => undefined);
    throw err;
  }
  // The data must be on disk before the rename makes it visible under its final name.
  const handle = await open(file, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  out.sha256 = hash.digest("hex");
  return out;
}

/**
 * Writes the dataset and its manifest, replacing earlier ones of the same name. On any failure (the row
 * iterator throws, the signal aborts, the disk fills) the temp files are removed and the final names
 * are left as they were, except that the previous manifest may be gone, never pointing at new data.
 */
export async function exportDataset(p: ExportParams): Promise<DatasetManifest> {
  if (!/^[^/\\]+$/.test(p.baseName) || p.baseName === "." || p.baseName === "..") {
    throw new Error(`baseName: must be a plain file name without directories (got ${JSON.stringify(p.baseName)})`);
  }
  p.signal?.throwIfAborted();
  const names = datasetFileNames(p.baseName);
  await mkdir(p.dir, { recursive: true });
  await sweepStaleTemps(p.dir, [names.data, names.manifest]);

  const dataTemp = tempPath(p.dir, names.data);
  const manifestTemp = tempPath(p.dir, names.manifest);
  try {
    const tally = new DecontaminationTally(p.decontamination);
    const written = await writeRows(dataTemp, p, tally);
    // The last full thousand was already reported inside writeRows.
    if (written.rows === 0 || written.rows % PROGRESS_EVERY_ROWS !== 0) p.onProgress?.(written.rows);
    const manifest: DatasetManifest = {
      format: p.format === "openai-strict" ? STRICT_DATASET_FORMAT : DATASET_FORMAT,
      file: names.data,
      sha256: written.sha256,
      bytes: written.bytes,
      rows: written.rows,
      countsByKind: written.countsByKind,
      countsByStatus: written.countsByStatus,
      idsSha256: sha256Hex(written.ids.sort().join("\n")),
      createdAt: new Date().toISOString(),
      ...(p.meta === undefined ? {} : { meta: p.meta }),
      ...(tally.record ? { decontamination: tally.record } : {}),
    };
    await writeFile(manifestTemp, JSON.stringify(manifest, null, 2) + "\n", { flag: "wx", flush: true });
    p.signal?.throwIfAborted();
    // The old manifest goes first: between the two renames there is new data and no manifest, never
    // a manifest whose hash does not match the data beside it.
    await rm(path.join(p.dir, names.manifest), { force: true });
    await rename(dataTemp, path.join(p.dir, names.data));
    await rename(manifestTemp, path.join(p.dir, names.manifest));
    await syncDir(p.dir);
    return manifest;
  } finally {
    // No-ops after a successful rename; after a failure they remove the partial files.
    await rm(dataTemp, { force: true });
    await rm(manifestTemp, { force: true });
  }
}
