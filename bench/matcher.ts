/**
 * Matcher throughput: our `bfcl`-mode checker vs the official bfcl_eval checker on the same
 * generated outputs (every single-turn category, ~54k outputs), all in one run. Target (issue
 * #3): >= 20x the official checker's entries per second.
 *
 *   node dist/bench/matcher.js [--repeats 7] [--categories simple,parallel]
 *
 * What is timed, on each side, is only the checking loop over outputs already decoded from the
 * same JSON lines: Python's json.loads objects for the official checker, our parser's MatchCall
 * lists for ours (the form `toolloop bfcl check` reads outputs into). Decoding is timed
 * separately and reported; interpreter start and imports are reported too.
 *
 * Ours is timed after a JIT warm-up, half the passes before and half after the Python runs. Its
 * verdicts carry their error type; the reasons are built when read, so a second figure reads
 * them for every entry (what an eager checker pays for its messages).
 *
 * The official checker runs in the project venv and, when present, under the distribution's
 * CPython of the same version (often a PGO/LTO build, faster than a source build such as
 * pyenv's); the speed-up is computed against the fastest interpreter. Needs the BFCL venv
 * (scripts/ensure-bfcl-venv.sh) or BFCL_VENV_PYTHON.
 */
import { parseArgs } from "node:util";
import { BFCL_SINGLE_TURN_CATEGORIES } from "../src/bfcl/data.js";
import { checkEntry } from "../src/bfcl/check.js";
import { parseBfclOutputLine } from "../src/matching/pyJson.js";
import {
  alternativePythons,
  buildDiffItems,
  officialCheckerUnavailable,
  officialInputLines,
  runOfficialChecker,
  venvPython,
  type OfficialRun,
} from "../test/bfcl/officialChecker.js";

const { values } = parseArgs({
  options: {
    repeats: { type: "string", default: "7" },
    categories: { type: "string", default: BFCL_SINGLE_TURN_CATEGORIES.join(",") },
  },
});
const repeats = Math.max(1, Number(values.repeats));
const categories = values.categories.split(",").filter((c) => c !== "");

const unavailable = officialCheckerUnavailable();
if (unavailable) {
  console.error(`cannot run the official checker: ${unavailable}`);
  process.exit(2);
}

const items = buildDiffItems(categories);
const lines = officialInputLines(items);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
const eps = (s: number) => `${(items.length / s).toFixed(0)} entries/s`;

// Decoding, the same lines on both sides (Python: json.loads, timed inside official_check.py).
const parse = () => lines.map((l) => (parseBfclOutputLine(l) as { result: unknown }).result);
let decoded = parse();
const parseRuns: number[] = [];
for (let i = 0; i < repeats; i++) {
  const t = performance.now();
  decoded = parse();
  parseRuns.push((performance.now() - t) / 1000);
}
const outputs = items.map((it, i) => ({ entry: it.entry, result: decoded[i] }));

let sink = 0;
const ourPass = () => {
  const t = performance.now();
  // An indexed loop: for-of allocates an iterator result per entry here (not part of the checker).
  for (let i = 0; i < outputs.length; i++) if (checkEntry(outputs[i]!.entry, outputs[i]!.result, "bfcl").valid) sink++;
  return (performance.now() - t) / 1000;
};
const ourPassWithReasons = () => {
  const t = performance.now();
  for (let i = 0; i < outputs.length; i++) {
    const v = checkEntry(outputs[i]!.entry, outputs[i]!.result, "bfcl");
    sink += v.reasons.length;
  }
  return (performance.now() - t) / 1000;
};
// Warm-up until V8's optimising tiers have settled (a single pass leaves the next few 2-3x slower)
// and the per-label compiled caches are built: at least 3 passes and 1 s. The Python side has no
// JIT to warm; its interpreter start and imports are likewise left out of its figure.
const warmStart = performance.now();
let warmPasses = 0;
while (warmPasses < 3 || performance.now() - warmStart < 1000) {
  ourPass();
  ourPassWithReasons();
  warmPasses++;
}
const ourRuns = Array.from({ length: repeats }, ourPass);
const reasonRuns = Array.from({ length: repeats }, ourPassWithReasons);

const interpreters: { label: string; run: OfficialRun }[] = [{ label: `venv (${venvPython()})`, run: runOfficialChecker(items, repeats) }];
for (const alt of alternativePythons()) interpreters.push({ label: alt.label, run: runOfficialChecker(items, repeats, alt.python) });

ourRuns.push(...Array.from({ length: repeats }, ourPass));
reasonRuns.push(...Array.from({ length: repeats }, ourPassWithReasons));
const ours = median(ourRuns);
const oursBest = Math.min(...ourRuns);
const withReasons = median(reasonRuns);

const reference = interpreters[0]!.run;
let agree = 0;
outputs.forEach((it, i) => {
  if ((reference.verdicts[i]!.verdict === "valid") === checkEntry(it.entry, it.result, "bfcl").valid) agree++;
});

console.log(
  `outputs: ${items.length} over ${categories.length} categories (${sink > 0 ? "checked" : "none valid"}); verdict agreement with the official checker ${((100 * agree) / items.length).toFixed(2)}%`,
);
console.log(
  `toolloop matcher (bfcl mode): median ${ms(ours)} per pass = ${eps(ours)}; best ${ms(oursBest)} (runs: ${ourRuns.map((r) => (r * 1000).toFixed(0)).join(", ")} ms)`,
);
console.log(`  reading every verdict's reasons as well: median ${ms(withReasons)} per pass = ${eps(withReasons)}`);
console.log(`  decoding the ${items.length} JSON lines (not in the figures above): median ${ms(median(parseRuns))}`);
for (const { label, run } of interpreters) {
  console.log(
    `official bfcl_eval checker, CPython ${run.python} ${label}: median ${ms(run.checkSeconds)} per pass = ${eps(run.checkSeconds)}; best ${ms(Math.min(...run.runs))}; ` +
      `json.loads of the same lines ${ms(run.loadSeconds)}; imports ${ms(run.importSeconds)}; whole process ${run.wallSeconds.toFixed(2)} s`,
  );
}
const fastest = interpreters.reduce((a, b) => (b.run.checkSeconds < a.run.checkSeconds ? b : a));
const fastestBest = Math.min(...fastest.run.runs);
console.log(
  `speed-up (checking only) against the fastest interpreter (${fastest.label}): median ${(fastest.run.checkSeconds / ours).toFixed(1)}x, ` +
    `best-pass ${(fastestBest / oursBest).toFixed(1)}x, with reasons read ${(fastest.run.checkSeconds / withReasons).toFixed(1)}x (target >= 20x)`,
);
if (interpreters.length > 1) {
  console.log(`  per interpreter (median): ${interpreters.map(({ label, run }) => `${label} ${(run.checkSeconds / ours).toFixed(1)}x`).join("; ")}`);
}
