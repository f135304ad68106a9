/**
 * Matcher throughput: our `bfcl`-mode checker vs the official bfcl_eval checker on the same
 * generated outputs (every single-turn category, ~54k outputs). Both sides time only the checking
 * loop over --repeats passes (ours after a JIT warm-up, and again after the Python run so both
 * see similar machine load); the Python figure excludes interpreter start and imports, which are
 * reported separately. Reports best-pass and median-pass ratios. Target (issue #3): >= 20x.
 *
 *   node dist/bench/matcher.js [--repeats 5] [--categories simple,parallel]
 *
 * Needs the BFCL venv (scripts/ensure-bfcl-venv.sh) or BFCL_VENV_PYTHON.
 */
import { parseArgs } from "node:util";
import { BFCL_SINGLE_TURN_CATEGORIES } from "../src/bfcl/data.js";
import { checkEntry } from "../src/bfcl/check.js";
import { parseBfclResult, stringifyPyJson } from "../src/matching/pyJson.js";
import { buildDiffItems, officialCheckerUnavailable, runOfficialChecker } from "../test/bfcl/officialChecker.js";

const { values } = parseArgs({
  options: {
    repeats: { type: "string", default: "5" },
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
// Like for like: the official side checks outputs json.loads'ed from the text it is sent, so ours
// checks outputs decoded from that same text (preloaded, untimed, as there), not the generator's
// objects, which share strings and arrays with the labels.
const outputs = items.map((it) => ({ entry: it.entry, result: parseBfclResult(stringifyPyJson(it.result)) }));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

let sink = 0;
const ourPass = () => {
  const t = performance.now();
  // An indexed loop: for-of allocated an iterator result per entry here (not part of the checker).
  for (let i = 0; i < outputs.length; i++) if (checkEntry(outputs[i]!.entry, outputs[i]!.result, "bfcl").valid) sink++;
  return (performance.now() - t) / 1000;
};
// Warm-up until V8's optimising tiers have settled (a single pass leaves the next few 2-3x slower)
// and the per-label compiled caches are built: at least 3 passes and 1 s. The Python side has no
// JIT to warm; its interpreter start and imports are likewise left out of its figure.
const warmStart = performance.now();
let warmPasses = 0;
while (warmPasses < 3 || performance.now() - warmStart < 1000) {
  ourPass();
  warmPasses++;
}
const ourRuns = Array.from({ length: repeats }, ourPass);
const official = runOfficialChecker(items, repeats);
ourRuns.push(...Array.from({ length: repeats }, ourPass));
const ours = median(ourRuns);
const oursBest = Math.min(...ourRuns);
const officialBest = Math.min(...official.runs);
let agree = 0;
outputs.forEach((it, i) => {
  if ((official.verdicts[i]!.verdict === "valid") === checkEntry(it.entry, it.result, "bfcl").valid) agree++;
});

const eps = (s: number) => (items.length / s).toFixed(0);
console.log(`outputs: ${items.length} over ${categories.length} categories (${sink > 0 ? "checked" : "none valid"}); verdict agreement ${((100 * agree) / items.length).toFixed(2)}%`);
console.log(`toolloop matcher (bfcl mode): median ${(ours * 1000).toFixed(1)} ms per pass = ${eps(ours)} entries/s (runs: ${ourRuns.map((r) => (r * 1000).toFixed(0)).join(", ")} ms)`);
console.log(
  `official bfcl_eval checker: median ${(official.checkSeconds * 1000).toFixed(1)} ms per pass = ${eps(official.checkSeconds)} entries/s; ` +
    `imports ${(official.importSeconds * 1000).toFixed(0)} ms; whole process incl. interpreter start, imports, JSON and ${repeats} passes ${official.wallSeconds.toFixed(2)} s`,
);
console.log(`best passes: toolloop ${(oursBest * 1000).toFixed(1)} ms (${eps(oursBest)} entries/s), official ${(officialBest * 1000).toFixed(1)} ms (${eps(officialBest)} entries/s)`);
console.log(`speed-up (checking only): median ${(official.checkSeconds / ours).toFixed(1)}x, best-pass ${(officialBest / oursBest).toFixed(1)}x (target >= 20x)`);
