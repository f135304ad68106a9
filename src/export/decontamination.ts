/**
 * BFCL decontamination of an export (export.dataset, export.verl): the stage's `decontaminate` setting
 * loaded into the index select.nextRound checks pools with, and the record of the samples it left out
 * that each export writes into its manifest and the worker log.
 */
import type { ChatMessage, McpTool } from "../domain/types.js";
import { loadContaminationIndex, type Contamination, type ContaminationIndex } from "../selection/contamination.js";

export interface DecontaminationSettings {
  categories: string[];
  threshold: number;
  shingleSize: number;
}

/** A manifest's `decontamination`: off, or the settings and the samples left out. */
export type DecontaminationRecord =
  | { enabled: false }
  | (DecontaminationSettings & {
      enabled: true;
      excluded: {
        count: number;
        byReason: Partial<Record<Contamination["reason"], number>>;
        /** The first few, with the BFCL entry each one matched. */
        examples: ({ sampleId: string } & Contamination)[];
      };
    });

/** What an export checks its samples with: the index and the settings it was built with. */
export interface Decontamination {
  index: Pick<ContaminationIndex, "check">;
  settings: DecontaminationSettings;
}

/** An export's `decontaminate` field as the config parsed it (bfclFields.ts exportDecontaminate). */
export interface DecontaminateSetting {
  enabled: boolean;
  categories: readonly string[];
  threshold: number;
  shingleSize: number;
}

/**
 * The stage's setting loaded: the index when on, `{ enabled: false }` when off, and undefined for a
 * config frozen before the setting existed (which exports as it did, its manifest without the record).
 */
export async function loadDecontamination(setting: DecontaminateSetting | undefined): Promise<Decontamination | { enabled: false } | undefined> {
  if (!setting) return undefined;
  if (!setting.enabled) return { enabled: false };
  const settings: DecontaminationSettings = { categories: [...setting.categories], threshold: setting.threshold, shingleSize: setting.shingleSize };
  const index = await loadContaminationIndex(settings.categories, { threshold: settings.threshold, shingleSize: settings.shingleSize });
  return { index, settings };
}

const MAX_EXAMPLES = 20;

/** Checks an export's samples one by one and keeps the record of those left out. */
export class DecontaminationTally {
  /** Undefined when the export was given no setting (a frozen config from before it). */
  readonly record: DecontaminationRecord | undefined;
  private readonly index: Decontamination["index"] | undefined;

  constructor(d: Decontamination | { enabled: false } | undefined) {
    if (d && "index" in d) {
      this.index = d.index;
      this.record = { enabled: true, ...d.settings, excluded: { count: 0, byReason: {}, examples: [] } };
    } else this.record = d ? { enabled: false } : undefined;
  }

  /** Whether the sample is a BFCL test item, to be left out; counted when it is. */
  excludes(sampleId: string, sample: { messages: readonly ChatMessage[]; tools: readonly McpTool[] }): boolean {
    const c = this.index?.check(sample);
    if (!c || !this.record?.enabled) return false;
    const excluded = this.record.excluded;
    excluded.count++;
    excluded.byReason[c.reason] = (excluded.byReason[c.reason] ?? 0) + 1;
    if (excluded.examples.length < MAX_EXAMPLES) excluded.examples.push({ sampleId, ...c });
    return true;
  }
}

/** How many samples a manifest's record says were left out (0 when off or absent). */
export function excludedCount(record: DecontaminationRecord | undefined): number {
  return record?.enabled ? record.excluded.count : 0;
}

/** The worker log line of an export that left samples out; undefined when it left none out. */
export function contaminationLogLine(stage: string, campaignId: string, iteration: number, record: DecontaminationRecord | undefined): string | undefined {
  if (!record?.enabled || record.excluded.count === 0) return undefined;
  const { count, byReason, examples } = record.excluded;
  const reasons = Object.entries(byReason)
    .map(([r, n]) => `${r} ${n}`)
    .join(", ");
  const first = examples[0];
  return `[${stage}] ${campaignId} iteration ${iteration}: left out ${count} sample(s) that are BFCL test items (${reasons}; first: ${first?.sampleId} matches ${first?.bfclId})`;
}
