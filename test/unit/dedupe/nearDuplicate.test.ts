/** Near-duplicate texts: shingles, Jaccard, and an LSH index that finds what brute force finds. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jaccard, NearDuplicateIndex, rowsPerBand, shingles } from "../../../src/dedupe/nearDuplicate.js";
import { SeededRandom } from "../../../src/util/random.js";

test("shingles: normalised words (case, width, punctuation), short texts are one shingle, empty has none", () => {
  assert.deepEqual([...shingles("Book a TABLE, for two!", 3)], ["book a table", "a table for", "table for two"]);
  assert.deepEqual([...shingles("  Ｈello   world ", 3)], ["hello world"]);
  assert.equal(shingles(" ?! ", 3).size, 0);
  assert.equal(jaccard(shingles("a b c d", 2), shingles("a b c e", 2)), 2 / 4);
});

test("rowsPerBand: higher thresholds allow longer bands (fewer false candidates)", () => {
  assert.ok(rowsPerBand(0.9) > rowsPerBand(0.8) && rowsPerBand(0.8) > rowsPerBand(0.5), `${rowsPerBand(0.9)} ${rowsPerBand(0.8)} ${rowsPerBand(0.5)}`);
  assert.equal(rowsPerBand(1), 128);
});

const VOCAB = Array.from({ length: 300 }, (_, i) => `w${i.toString(36)}x`);

function sentence(rng: SeededRandom, n: number): string[] {
  return Array.from({ length: n }, () => rng.pick(VOCAB));
}

test("the index finds exactly the pairs brute force finds at the threshold, and the most similar one", () => {
  const rng = new SeededRandom(7);
  const threshold = 0.7;
  const base = Array.from({ length: 200 }, () => sentence(rng, 30));
  const texts: string[] = base.map((w) => w.join(" "));
  // Variants: one or two words changed (Jaccard roughly 0.6-0.9 of 3-shingles), plus unrelated texts.
  for (let i = 0; i < 200; i++) {
    const w = [...(base[i] as string[])];
    for (let k = 0; k < 1 + (i % 3); k++) w[rng.int(0, w.length - 1)] = rng.pick(VOCAB);
    texts.push(w.join(" "));
  }
  const index = new NearDuplicateIndex<number>(threshold);
  let found = 0;
  for (const [i, t] of texts.entries()) {
    const hit = index.find(t);
    const sets = texts.slice(0, i).map((u) => jaccard(shingles(t, 3), shingles(u, 3)));
    const best = Math.max(-1, ...sets);
    if (best >= threshold) {
      assert.ok(hit, `text ${i}: brute force has a match at ${best.toFixed(3)}, the index none`);
      assert.equal(hit.similarity, best);
      assert.equal(sets[hit.key], best);
      found++;
    } else assert.equal(hit, undefined, `text ${i}: the index reports ${JSON.stringify(hit)} below the threshold`);
    index.add(i, t);
  }
  assert.ok(found > 50, `the data has near duplicates to find (${found})`);
  assert.equal(index.size, texts.length);
});

test("findAll returns every stored text at the threshold, as brute force does, in the order added", () => {
  const rng = new SeededRandom(8);
  const base = sentence(rng, 30);
  const texts = Array.from({ length: 60 }, (_, i) => {
    const w = [...base];
    for (let k = 0; k < i % 5; k++) w[rng.int(0, w.length - 1)] = rng.pick(VOCAB);
    return i % 7 === 6 ? sentence(rng, 30).join(" ") : w.join(" ");
  });
  const index = new NearDuplicateIndex<number>(0.6);
  texts.forEach((t, i) => index.add(i, t));
  const query = base.join(" ");
  const brute = texts.flatMap((t, i) => {
    const similarity = jaccard(shingles(query, 3), shingles(t, 3));
    return similarity >= 0.6 ? [{ key: i, similarity }] : [];
  });
  assert.ok(brute.length > 10 && brute.length < texts.length, `some texts near, some not (${brute.length})`);
  assert.deepEqual(index.findAll(query), brute);
  assert.deepEqual(
    index.findAll(query, (k) => k % 2 === 0),
    brute.filter((m) => m.key % 2 === 0),
    "eligible leaves keys out",
  );
  assert.deepEqual(index.findAll("   "), []);
});

test("thresholds out of range are refused", () => {
  assert.throws(() => new NearDuplicateIndex(0), /threshold must be in \(0, 1\]/);
  assert.throws(() => new NearDuplicateIndex(1.5), /threshold/);
});
