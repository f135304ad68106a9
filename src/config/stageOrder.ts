/**
 * The stage-order check: a stage that reads what no earlier stage of its iteration makes (verify.rules
 * before any synthesis, train.grpo without export.verl before it) reads nothing or fails, and only
 * once the campaign reaches it, maybe hours in. Said when the config is read (`campaign validate`,
 * `campaign start`), as warnings: configs stored before the check keep loading, and a stage that reads
 * nothing in some iterations may be meant. Pure (no I/O): workflows parse configs too.
 */
import type { AnyStageSpec, SampleSelection, StageArtifact } from "../framework/stageSpec.js";
import { runsInIteration } from "../framework/stageSpec.js";

const WHAT: Record<StageArtifact, string> = {
  samples: "the iteration's samples",
  pool: "the iteration's training pool",
  probeMismatches: "the probe's mismatches (probe.greedy)",
  errorSeeds: "the iteration's error seeds (repair.labels)",
  verlDataset: "the iteration's verl dataset (export.verl)",
  sftDataset: 'the iteration\'s SFT set (export.verl with "sft": true)',
  grpoCheckpoint: "the iteration's GRPO checkpoint (train.grpo)",
  mergedPolicy: "the iteration's merged policy (train.merge)",
};

const PLURAL = new Set<StageArtifact>(["samples", "probeMismatches", "errorSeeds"]);

const SCOPE_ARTIFACT: Record<SampleSelection["scope"], StageArtifact> = {
  iteration: "samples",
  pool: "pool",
  probeMismatches: "probeMismatches",
  errorSeeds: "errorSeeds",
};

interface StageEntry {
  name: string;
  runIn?: "first" | "later" | "every";
}

/** What a stage entry needs from earlier stages: its selection's scope (read: nothing there) and its own needs (fails without). */
function needsOf(spec: AnyStageSpec, stage: StageEntry): { artifact: StageArtifact; fails: boolean }[] {
  const out: { artifact: StageArtifact; fails: boolean }[] = [];
  if (spec.reads.kind === "samples") out.push({ artifact: SCOPE_ARTIFACT[spec.reads.selection(stage).scope], fails: false });
  for (const artifact of spec.needs?.(stage) ?? []) if (!out.some((n) => n.artifact === artifact)) out.push({ artifact, fails: true });
  return out;
}

/**
 * One warning per stage entry and missing artifact, naming the iterations it is missing in
 * (iteration 1, the later ones, or every one) and what happens there.
 */
export function stageOrderWarnings(config: { iterations: number; stages: readonly StageEntry[] }, specs: readonly AnyStageSpec[]): string[] {
  const byName = new Map(specs.map((s) => [s.name, s]));
  // The two kinds of iteration a config can tell apart (runIn): the first, and every later one.
  const classes = config.iterations > 1 ? [1, 2] : [1];
  const missing = new Map<string, { index: number; name: string; artifact: StageArtifact; fails: boolean; iterations: number[] }>();
  for (const iteration of classes) {
    const made = new Set<StageArtifact>();
    config.stages.forEach((stage, index) => {
      const spec = byName.get(stage.name);
      if (!spec || !runsInIteration({ runIn: stage.runIn === "every" ? undefined : stage.runIn }, iteration)) return;
      for (const need of needsOf(spec, stage)) {
        if (made.has(need.artifact)) continue;
        const key = `${index}/${need.artifact}`;
        const m = missing.get(key) ?? { index, name: stage.name, ...need, iterations: [] };
        m.iterations.push(iteration);
        missing.set(key, m);
      }
      for (const artifact of spec.makes?.(stage) ?? []) made.add(artifact);
    });
  }
  return [...missing.values()].map((m) => {
    const everyIteration = classes.length > 1 && m.iterations.length === classes.length;
    const where = everyIteration ? "any iteration" : iterationsPhrase(m.iterations[0]!, config.iterations);
    const them = PLURAL.has(m.artifact) ? "them" : "it";
    // Samples and the pool have several possible makers, named from the specs (which make them whatever
    // their config, so an empty one will do); the other artifacts' one maker is in WHAT.
    const makers = m.artifact === "samples" || m.artifact === "pool" ? specs.filter((s) => s.makes?.({} as never).includes(m.artifact)).map((s) => s.name) : [];
    const hint = makers.length > 0 ? ` (${orList(makers)} ${makers.length === 1 ? "makes" : "make"} ${them})` : "";
    const outcome = everyIteration
      ? m.fails
        ? "so it always fails"
        : "so it never has anything to read"
      : m.fails
        ? "so it fails there"
        : "so it has nothing to read there";
    return `stages[${m.index}] (${m.name}) reads ${WHAT[m.artifact]}${hint}, but no stage before it makes ${them} in ${where}, ${outcome}`;
  });
}

function iterationsPhrase(klass: number, iterations: number): string {
  if (klass === 1) return "iteration 1";
  return iterations === 2 ? "iteration 2" : `iterations 2 to ${iterations}`;
}

function orList(names: string[]): string {
  return names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}
