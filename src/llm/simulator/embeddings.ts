/**
 * Deterministic unit-length embeddings: the sum of one pseudo-random direction per word (feature
 * hashing) plus a small per-text component, normalised. Texts sharing words point the same way, so
 * clustering and near-duplicate checks behave sensibly against the simulator.
 */
import { seedFrom } from "../../util/ids.js";
import { SeededRandom } from "../../util/random.js";
import { textWords } from "./text.js";

export const DEFAULT_EMBEDDING_DIMS = 384;

function direction(key: string, dims: number): Float64Array {
  const rng = new SeededRandom(seedFrom("embedding", key));
  const v = new Float64Array(dims);
  // Sum of uniforms: cheap, roughly Gaussian, so directions spread evenly.
  for (let i = 0; i < dims; i++) v[i] = rng.next() + rng.next() + rng.next() - 1.5;
  return v;
}

export function embed(text: string, dims = DEFAULT_EMBEDDING_DIMS): number[] {
  const acc = new Float64Array(dims);
  for (const w of textWords(text)) {
    const d = direction(`w:${w}`, dims);
    for (let i = 0; i < dims; i++) acc[i]! += d[i]!;
  }
  const own = direction(`t:${text}`, dims);
  for (let i = 0; i < dims; i++) acc[i]! += 0.25 * own[i]!;
  let norm = 0;
  for (let i = 0; i < dims; i++) norm += acc[i]! * acc[i]!;
  norm = Math.sqrt(norm) || 1;
  return Array.from(acc, (x) => x / norm);
}
