/**
 * Near-duplicate texts: word-shingle Jaccard similarity, found with MinHash signatures and
 * locality-sensitive hashing (banding) so a lookup touches only the few stored texts that share a
 * band with it instead of every one (near-linear over a whole pool). Every candidate LSH proposes is
 * then checked with the exact Jaccard of the shingle sets, so the threshold is exact: LSH only
 * decides which pairs get checked, and its bands are sized so a pair at the threshold is proposed
 * with probability >= 0.995.
 */
import { normalizeText } from "./exactKey.js";

/** Number of MinHash functions per signature. */
const NUM_HASHES = 128;
/** Probability that LSH proposes a pair whose Jaccard is exactly the threshold. */
const TARGET_RECALL = 0.995;

/**
 * The text as its set of word shingles (runs of `size` consecutive words) after the same
 * normalisation as exact keys (NFKC, lower case, whitespace collapsed) with punctuation removed.
 * A text shorter than `size` words is one shingle of all its words; an empty text has none.
 */
export function shingles(text: string, size: number): Set<string> {
  const words = normalizeText(text)
    .replace(/[^\p{L}\p{N}\s]+/gu, " ")
    .split(" ")
    .filter((w) => w !== "");
  const out = new Set<string>();
  if (words.length === 0) return out;
  if (words.length <= size) {
    out.add(words.join(" "));
    return out;
  }
  for (let i = 0; i + size <= words.length; i++) out.add(words.slice(i, i + size).join(" "));
  return out;
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let common = 0;
  for (const s of small) if (large.has(s)) common++;
  return common / (a.size + b.size - common);
}

/** FNV-1a over the UTF-16 code units, 32 bits. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's 32-bit finaliser: a cheap bijective mix, so each salt gives an independent-looking permutation. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

const SALTS: readonly number[] = Array.from({ length: NUM_HASHES }, (_, i) => mix32(0x9e3779b9 ^ Math.imul(i + 1, 0x27d4eb2f)));

function minHash(set: ReadonlySet<string>): Uint32Array {
  const sig = new Uint32Array(NUM_HASHES).fill(0xffffffff);
  for (const s of set) {
    const h = hashString(s);
    for (let i = 0; i < NUM_HASHES; i++) {
      const v = mix32(h ^ (SALTS[i] as number));
      if (v < (sig[i] as number)) sig[i] = v;
    }
  }
  return sig;
}

/**
 * Rows per band: the most (fewest false candidates) for which a pair at the threshold still shares
 * at least one band with probability >= TARGET_RECALL.
 */
export function rowsPerBand(threshold: number): number {
  for (let rows = NUM_HASHES; rows > 1; rows--) {
    const bands = Math.floor(NUM_HASHES / rows);
    if (1 - Math.pow(1 - Math.pow(threshold, rows), bands) >= TARGET_RECALL) return rows;
  }
  return 1;
}

export interface NearDuplicateMatch<K> {
  key: K;
  similarity: number;
}

/**
 * An index of texts under keys. `find` returns the most similar stored text whose Jaccard with the
 * query is >= threshold (ties: the one added first), or undefined.
 */
export class NearDuplicateIndex<K> {
  private readonly rows: number;
  private readonly bands: number;
  private readonly buckets = new Map<string, number[]>();
  private readonly entries: { key: K; shingles: Set<string> }[] = [];

  constructor(
    readonly threshold: number,
    readonly shingleSize = 3,
  ) {
    if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`near-duplicate threshold must be in (0, 1], got ${threshold}`);
    this.rows = rowsPerBand(threshold);
    this.bands = Math.floor(NUM_HASHES / this.rows);
  }

  get size(): number {
    return this.entries.length;
  }

  private bandKeys(set: ReadonlySet<string>): string[] {
    const sig = minHash(set);
    const keys: string[] = [];
    for (let b = 0; b < this.bands; b++) keys.push(`${b}:${sig.subarray(b * this.rows, (b + 1) * this.rows).join(",")}`);
    return keys;
  }

  add(key: K, text: string): void {
    const set = shingles(text, this.shingleSize);
    // An empty text (no words) is nobody's near-duplicate: exact keys handle empty queries.
    if (set.size === 0) return;
    const at = this.entries.push({ key, shingles: set }) - 1;
    for (const k of this.bandKeys(set)) {
      const bucket = this.buckets.get(k);
      if (bucket) bucket.push(at);
      else this.buckets.set(k, [at]);
    }
  }

  /** The most similar stored text at or above the threshold; `eligible` (when given) leaves out stored keys it refuses. */
  find(text: string, eligible?: (key: K) => boolean): NearDuplicateMatch<K> | undefined {
    let best: { at: number; similarity: number } | undefined;
    for (const m of this.matches(text, eligible)) if (!best || m.similarity > best.similarity || (m.similarity === best.similarity && m.at < best.at)) best = m;
    return best && { key: this.entries[best.at]!.key, similarity: best.similarity };
  }

  /** Every stored text at or above the threshold, in the order they were added. */
  findAll(text: string, eligible?: (key: K) => boolean): NearDuplicateMatch<K>[] {
    return [...this.matches(text, eligible)].sort((a, b) => a.at - b.at).map((m) => ({ key: this.entries[m.at]!.key, similarity: m.similarity }));
  }

  private *matches(text: string, eligible?: (key: K) => boolean): Generator<{ at: number; similarity: number }> {
    const set = shingles(text, this.shingleSize);
    if (set.size === 0) return;
    const seen = new Set<number>();
    for (const k of this.bandKeys(set)) {
      for (const at of this.buckets.get(k) ?? []) {
        if (seen.has(at)) continue;
        seen.add(at);
        if (eligible && !eligible(this.entries[at]!.key)) continue;
        const similarity = jaccard(set, this.entries[at]!.shingles);
        if (similarity >= this.threshold) yield { at, similarity };
      }
    }
  }
}
