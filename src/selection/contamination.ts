/**
 * Decontamination against the BFCL test data: a training sample must not ask a BFCL question
 * (exactly, up to the exact-key normalisation, or nearly: shingle Jaccard >= threshold) nor offer a
 * function whose signature (name, parameter names and types) is a BFCL function's. Building the index
 * is pure; `loadContaminationIndex` reads the data files once per process and categories.
 */
import { loadBfclCategory, type BfclEntry } from "../bfcl/data.js";
import type { ChatMessage, McpTool } from "../domain/types.js";
import { normalizeText } from "../dedupe/exactKey.js";
import { NearDuplicateIndex } from "../dedupe/nearDuplicate.js";
import { bfclSignature, bfclUserQuery, toolSignature, userQueryOf } from "./signature.js";

export type Contamination =
  { reason: "contaminated_query"; bfclId: string; similarity: number } | { reason: "contaminated_signature"; bfclId: string; tool: string; signature: string };

export interface ContaminationIndex {
  /** BFCL entries indexed, per category. */
  readonly entries: Record<string, number>;
  check(sample: { messages: readonly ChatMessage[]; tools: readonly McpTool[] }): Contamination | undefined;
}

export interface ContaminationOptions {
  /** Shingle Jaccard at or above which a query counts as a BFCL query. */
  threshold: number;
  shingleSize?: number;
}

/** Indexes the entries' user queries and function signatures (the first entry of each wins, by the order given). */
export function buildContaminationIndex(entries: readonly BfclEntry[], opts: ContaminationOptions): ContaminationIndex {
  const exactQueries = new Map<string, string>();
  const nearQueries = new NearDuplicateIndex<string>(opts.threshold, opts.shingleSize);
  const signatures = new Map<string, string>();
  const counts: Record<string, number> = {};
  for (const e of entries) {
    counts[e.category] = (counts[e.category] ?? 0) + 1;
    const query = bfclUserQuery(e.question);
    const key = normalizeText(query);
    if (key !== "" && !exactQueries.has(key)) {
      exactQueries.set(key, e.id);
      nearQueries.add(e.id, query);
    }
    for (const f of e.function ?? []) {
      const sig = bfclSignature(f);
      if (!signatures.has(sig)) signatures.set(sig, e.id);
    }
  }
  return {
    entries: counts,
    check(sample) {
      const query = userQueryOf(sample.messages);
      const key = normalizeText(query);
      if (key !== "") {
        const exact = exactQueries.get(key);
        if (exact !== undefined) return { reason: "contaminated_query", bfclId: exact, similarity: 1 };
        const near = nearQueries.find(query);
        if (near) return { reason: "contaminated_query", bfclId: near.key, similarity: near.similarity };
      }
      for (const tool of sample.tools) {
        const signature = toolSignature(tool);
        const bfclId = signatures.get(signature);
        if (bfclId !== undefined) return { reason: "contaminated_signature", bfclId, tool: tool.name, signature };
      }
      return undefined;
    },
  };
}

const cache = new Map<string, Promise<ContaminationIndex>>();

/**
 * The index of these categories, built once per process (and data dir, threshold): a worker
 * selecting a pool every iteration reads the files once.
 */
export function loadContaminationIndex(categories: readonly string[], opts: ContaminationOptions & { dataDir?: string }): Promise<ContaminationIndex> {
  const sorted = [...categories].sort();
  const key = JSON.stringify([sorted, opts.threshold, opts.shingleSize ?? null, opts.dataDir ?? null]);
  let index = cache.get(key);
  if (!index) {
    index = (async () => {
      const entries: BfclEntry[] = [];
      for (const c of sorted) entries.push(...(await loadBfclCategory(c, opts.dataDir)));
      return buildContaminationIndex(entries, opts);
    })();
    // A failed load (a missing file) is not cached: the next activity tries again.
    index.catch(() => cache.delete(key));
    cache.set(key, index);
  }
  return index;
}
