/**
 * Chaos: a sample's lineage survives a worker killed (SIGKILL) in the middle of repair.labels.
 *
 * One iteration of the whole loop WITH training, in worker processes: synthesize -> verify.rules ->
 * dedupe.exact -> select.nextRound -> export.verl (the pool) -> train.sft -> train.grpo ->
 * train.merge -> serve.policy -> probe.greedy -> repair.labels -> expand.errors. Training runs the
 * stand-in trainer (SIMULATED: it trains nothing) on the local launcher; serve.policy serves its
 * checkpoint with the LLM simulator (SIMULATED policy with a mistake rate). The generator is the
 * simulator with silent label mistakes (schema-valid wrong values the rules cannot see: labels to
 * repair); the judges are a slower simulator (same seed, small judge error rate) so that repair.labels
 * runs long enough to be killed in the middle. A committee of 3 samples, consensus 2, judges both
 * the mismatches and the expansions (perSeed 2).
 *
 * While repair.labels is running and has stored some votes but not all judgements, every worker is
 * SIGKILLed and a new one started. Then: the campaign completed; every probed mismatch has exactly one
 * judgement and exactly the committee's votes; every repaired or expanded sample's lineage reaches a
 * synthesized seed with its verdicts, votes and judgement, also through `toolloop sample lineage`;
 * no sample was written twice (repaired ids are recomputed from the parent and the prediction).
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { and, eq, sql } from "drizzle-orm";
import { sampleLineage, type LineageStep } from "../../src/db/repos/lineage.js";
import { judgeVotes, labelJudgements, probeResults, samples, stageSlotOutcomes } from "../../src/db/schema.js";
import { judgeId } from "../../src/judging/committee.js";
import { startSimulator, type SimulatorHandle } from "../../src/llm/simulator/server.js";
import type { AssistantAnswer } from "../../src/matching/labelAgreement.js";
import { repairedSample } from "../../src/repair/labelRepair.js";
import { stopServedPolicies } from "../../src/training/servedPolicyJobs.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { standinTrainingStages } from "../helpers/standinTraining.js";
import { trainVenvPython } from "../helpers/trainVenv.js";
import { createChaosHarness, reportChecks, sleep, watchStatus, type ChaosHarness, type Check } from "./harness.js";

const CLI_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const SIM_SEED = 11;
const COMMITTEE = { members: [{ role: "judge", samples: 3 }], consensus: 2 };
const COMMITTEE_JUDGES = [0, 1, 2].map((s) => judgeId("judge", s));
const PER_SEED = 2;

let h: ChaosHarness;
let judges: SimulatorHandle;
const started: string[] = [];

before(async () => {
  // Generator (and base policy): detectable mistakes for the rules, silent ones for the judges.
  h = await createChaosHarness("lineage", { seed: SIM_SEED, latencyMs: 5, maxConcurrency: 16, mistakeRate: 0.1, silentMistakeRate: 0.25 });
  // Judges: the same scripted judge, slow enough that repair.labels takes seconds.
  judges = await startSimulator({ seed: SIM_SEED, latencyMs: 400, maxConcurrency: 4, judgeErrorRate: 0.02, quiet: true });
});
after(async () => {
  for (const id of started) await stopServedPolicies(h.db.db, id, localLauncher(), () => undefined).catch(() => undefined);
  await judges?.close();
  await h?.close();
});

function localLauncher() {
  return { kind: "local" as const, stateDir: path.join(h.workDir, "local-jobs") };
}

function loopConfig() {
  const stages = [
    { name: "synthesize.singleTurn", count: 96, batchSize: 48, mix: { standard: 0.6, parallel: 0.3, irrelevance: 0.1 } },
    { name: "verify.rules", batchSize: 96 },
    { name: "dedupe.exact" },
    { name: "select.nextRound", seedBudget: 96 },
    { name: "export.verl", from: "pool", valFraction: 0.2, sft: true },
    ...standinTrainingStages({ stepSeconds: "0.05", mistakeRate: 0.3, serveSeed: 5 }),
    { name: "probe.greedy", batchSize: 50 },
    { name: "repair.labels", batchSize: 8, committee: COMMITTEE },
    { name: "expand.errors", perSeed: PER_SEED, batchSize: 8, committee: COMMITTEE },
  ];
  return simulatorCampaign(h.sim.url, {
    endpoints: {
      sim: { baseUrl: h.sim.url, maxConcurrency: 16, timeoutMs: 10_000, maxRetries: 2 },
      judges: { baseUrl: judges.url, maxConcurrency: 4, timeoutMs: 10_000, maxRetries: 2 },
    },
    roles: {
      generator: { endpoint: "sim", model: "toolloop-sim-generator" },
      policy: { endpoint: "sim", model: "toolloop-sim-policy", temperature: 0 },
      judge: { endpoint: "judges", model: "toolloop-sim-judge" },
    },
    stages: stages as never,
    concurrency: { batchesInParallel: 2 },
    cluster: { launcher: localLauncher(), python: trainVenvPython() },
  } as never);
}

async function count(q: Promise<{ n: number }[]>): Promise<number> {
  return Number((await q)[0]?.n ?? 0);
}

function runCli(args: string[]) {
  return spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: "utf8", env: { ...process.env, DATABASE_URL: h.databaseUrl }, timeout: 30_000 });
}

/** What makes a lineage complete; problems listed, none means complete. */
function lineageProblems(chain: LineageStep[], id: string, judgedIds: ReadonlySet<string>, votesBySample: ReadonlyMap<string, number>): string[] {
  const problems: string[] = [];
  if (chain[0]?.sample.id !== id) problems.push(`the chain does not start at ${id}`);
  const seed = chain[chain.length - 1];
  if (!seed || seed.sample.origin !== "synthesized" || seed.sample.parentId !== null)
    problems.push(`the chain ends at ${seed?.sample.id} (${seed?.sample.origin}), not a seed`);
  chain.forEach((step, i) => {
    const s = step.sample;
    if (i < chain.length - 1 && s.parentId !== chain[i + 1]!.sample.id) problems.push(`${s.id}: parent ${s.parentId} is not the next step`);
    if (s.verdicts.length === 0) problems.push(`${s.id}: no stored verdicts`);
    if (judgedIds.has(s.id)) {
      if (step.judgements.length !== 1) problems.push(`${s.id}: ${step.judgements.length} judgements in the lineage`);
      if (step.votes.length !== (votesBySample.get(s.id) ?? -1) || step.votes.length !== COMMITTEE_JUDGES.length)
        problems.push(`${s.id}: ${step.votes.length} votes in the lineage, ${votesBySample.get(s.id)} stored`);
      if (step.probes.length !== 1 || step.probes[0]!.match) problems.push(`${s.id}: judged but its probe mismatch is not in the lineage`);
    }
    // A made sample's parent was judged: the decision that made it must name it.
    if (i > 0 && s.id === chain[i - 1]!.sample.parentId && chain[i - 1]!.sample.origin === "repaired") {
      const j = step.judgements[0];
      if (j?.resultSampleId !== chain[i - 1]!.sample.id) problems.push(`${s.id}: its judgement does not name ${chain[i - 1]!.sample.id}`);
    }
  });
  return problems;
}

test("kill -9 of the worker during repair.labels: every judgement and vote once, lineage complete", { timeout: 300_000 }, async () => {
  const campaignId = `lineage-${Date.now().toString(36)}`;
  started.push(campaignId);
  const t0 = Date.now();
  h.startWorker();
  const handle = await h.startCampaign(loopConfig(), campaignId);
  const watch = watchStatus(h, campaignId, 250);
  const db = h.db.db;
  const votesStored = () =>
    count(
      db
        .select({ n: sql<number>`count(*)::int` })
        .from(judgeVotes)
        .where(eq(judgeVotes.campaignId, campaignId)),
    );
  const judgementsStored = () =>
    count(
      db
        .select({ n: sql<number>`count(*)::int` })
        .from(labelJudgements)
        .where(eq(labelJudgements.campaignId, campaignId)),
    );

  // The kill: once repair.labels runs and has stored votes, but has not decided every mismatch.
  let kill = "";
  const chaos = (async () => {
    const deadline = Date.now() + 150_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`repair.labels never seen running with votes stored (states: ${[...watch.seen].join(", ")})`);
      if (watch.seen.has("stage:repair.labels:running") && (await votesStored()) >= COMMITTEE_JUDGES.length) break;
      await sleep(100);
    }
    const victims = h.liveWorkers();
    await Promise.all(victims.map((w) => w.kill9()));
    const [votes, judged] = [await votesStored(), await judgementsStored()];
    const mismatches = await count(
      db
        .select({ n: sql<number>`count(*)::int` })
        .from(probeResults)
        .where(and(eq(probeResults.campaignId, campaignId), eq(probeResults.match, false))),
    );
    kill = `killed ${victims.map((w) => w.pid).join("+")} at ${((Date.now() - t0) / 1000).toFixed(1)} s with ${votes} votes and ${judged}/${mismatches} judgements stored`;
    h.startWorker();
    return { votes, judged, mismatches };
  })();

  let result: { state: string } | undefined;
  let failure = "";
  let timer: NodeJS.Timeout | undefined;
  try {
    result = (await Promise.race([
      handle.result(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("not finished after 180 s")), 180_000))),
    ])) as { state: string };
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
    await handle.terminate("chaos test gave up").catch(() => undefined);
  } finally {
    clearTimeout(timer);
    await watch.stop();
  }
  const killed = await chaos.catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));
  const elapsed = ((Date.now() - t0) / 1000).toFixed(1);
  const checks: Check[] = [];
  checks.push({
    name: "killed mid-repair (votes stored, judgements missing)",
    ok: !("error" in killed) && killed.votes > 0 && killed.judged < killed.mismatches,
    detail: "error" in killed ? killed.error : kill,
  });
  checks.push({
    name: "the campaign completed",
    ok: result?.state === "completed" && !watch.waiting,
    detail: `${result ? `state ${result.state}` : failure}; ${watch.waiting ? "waiting_for_operator shown" : "no operator action needed"}`,
  });

  // Every mismatch judged exactly once, by exactly the committee.
  const mismatches = await db
    .select({ id: probeResults.sampleId, prediction: probeResults.prediction })
    .from(probeResults)
    .where(and(eq(probeResults.campaignId, campaignId), eq(probeResults.match, false)));
  const judgements = await db.select().from(labelJudgements).where(eq(labelJudgements.campaignId, campaignId));
  const votes = await db.select({ sampleId: judgeVotes.sampleId, judge: judgeVotes.judge }).from(judgeVotes).where(eq(judgeVotes.campaignId, campaignId));
  const mismatchIds = new Set(mismatches.map((m) => m.id));
  const judgedPerSample = new Map<string, number>();
  for (const j of judgements) judgedPerSample.set(j.sampleId, (judgedPerSample.get(j.sampleId) ?? 0) + 1);
  const notJudged = [...mismatchIds].filter((id) => judgedPerSample.get(id) !== 1);
  const judgedNotMismatch = judgements.filter((j) => !mismatchIds.has(j.sampleId));
  checks.push({
    name: "every mismatch has exactly one label_judgements row",
    ok: mismatchIds.size > 0 && notJudged.length === 0 && judgedNotMismatch.length === 0 && judgements.length === mismatchIds.size,
    detail: `${mismatchIds.size} mismatches, ${judgements.length} judgements; not judged exactly once ${notJudged.length}; judged but no mismatch ${judgedNotMismatch.length}; actions ${JSON.stringify(tallyBy(judgements, (j) => j.action))}`,
  });
  const votesBySample = new Map<string, string[]>();
  for (const v of votes) votesBySample.set(v.sampleId, [...(votesBySample.get(v.sampleId) ?? []), v.judge]);
  const badVotes = [...mismatchIds].filter((id) => (votesBySample.get(id) ?? []).sort().join(",") !== COMMITTEE_JUDGES.join(","));
  const votesElsewhere = [...votesBySample.keys()].filter((id) => !mismatchIds.has(id));
  const recordedVoteCounts = judgements.filter((j) => j.votes !== COMMITTEE_JUDGES.length);
  checks.push({
    name: "judge_votes: exactly the committee's votes per judged mismatch",
    ok: badVotes.length === 0 && votesElsewhere.length === 0 && votes.length === mismatchIds.size * COMMITTEE_JUDGES.length && recordedVoteCounts.length === 0,
    detail: `${votes.length} votes for ${mismatchIds.size} mismatches x ${COMMITTEE_JUDGES.length}; wrong vote sets ${badVotes.length} ${JSON.stringify(badVotes.slice(0, 3).map((id) => votesBySample.get(id)))}; votes on other samples ${votesElsewhere.length}; judgements counting other than ${COMMITTEE_JUDGES.length} votes ${recordedVoteCounts.length}`,
  });

  // No sample written twice: repaired ids recomputed; one per decision that made one; expansions once per slot.
  const made = await db
    .select({ id: samples.id, origin: samples.origin, parentId: samples.parentId, slotKey: samples.slotKey })
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), sql`${samples.origin} <> 'synthesized'`));
  const repaired = made.filter((s) => s.origin === "repaired");
  const expanded = made.filter((s) => s.origin === "expanded");
  const byParent = tallyBy(repaired, (s) => s.parentId ?? "");
  const naming = judgements.filter((j) => j.resultSampleId !== null);
  const parents = new Map(
    (await db.select({ id: samples.id, messages: samples.messages, tools: samples.tools }).from(samples).where(eq(samples.campaignId, campaignId))).map((s) => [
      s.id,
      s,
    ]),
  );
  const predictionOf = new Map(mismatches.map((m) => [m.id, m.prediction as AssistantAnswer]));
  const idMismatch = naming.filter((j) => {
    const parent = parents.get(j.sampleId);
    return !parent || repairedSample(campaignId, parent, predictionOf.get(j.sampleId)!).id !== j.resultSampleId;
  });
  const repairedIds = new Set(repaired.map((s) => s.id));
  const errorSeeds = judgements.filter((j) => j.action === "error_seed").map((j) => j.sampleId);
  const expandFailures = await count(
    db
      .select({ n: sql<number>`count(*)::int` })
      .from(stageSlotOutcomes)
      .where(and(eq(stageSlotOutcomes.campaignId, campaignId), eq(stageSlotOutcomes.stage, "expand.errors"))),
  );
  const expandedSlots = new Set(expanded.map((s) => s.slotKey));
  checks.push({
    name: "no sample duplicated (repaired ids deterministic, one sample per decision and per expansion slot)",
    ok:
      Object.values(byParent).every((n) => n === 1) &&
      repaired.length === naming.length &&
      naming.every((j) => repairedIds.has(j.resultSampleId!)) &&
      idMismatch.length === 0 &&
      expandedSlots.size === expanded.length &&
      !expandedSlots.has(null) &&
      expanded.length + expandFailures === errorSeeds.length * PER_SEED,
    detail: `${repaired.length} repaired samples for ${naming.length} decisions naming one; parents with more than one ${Object.values(byParent).filter((n) => n > 1).length}; ids not recomputable ${idMismatch.length}; ${expanded.length} expanded + ${expandFailures} failed slots for ${errorSeeds.length} error seeds x ${PER_SEED}; distinct expansion slots ${expandedSlots.size}`,
  });

  // Lineage of every made sample: complete back to a seed.
  const judgedIds = new Set(judgements.map((j) => j.sampleId));
  const voteCounts = new Map([...votesBySample].map(([id, v]) => [id, v.length]));
  const incomplete: string[] = [];
  for (const s of made) {
    const problems = lineageProblems(await sampleLineage(db, s.id), s.id, judgedIds, voteCounts);
    if (problems.length) incomplete.push(`${s.id}: ${problems.join("; ")}`);
  }
  checks.push({
    name: "every repaired and expanded sample's lineage is complete",
    ok: repaired.length > 0 && expanded.length > 0 && incomplete.length === 0,
    detail: `${repaired.length} repaired, ${expanded.length} expanded; incomplete ${incomplete.length} ${JSON.stringify(incomplete.slice(0, 3))}`,
  });

  // The CLI prints it: a repaired sample (its seed, the votes and the committee's decision) and an expanded one.
  const cliChecks: string[] = [];
  const pickRepaired = judgements.find((j) => j.action === "repaired");
  const pickExpanded = expanded[0];
  for (const [what, id, parentId, decision] of [
    ["repaired", pickRepaired?.resultSampleId, pickRepaired?.sampleId, "-> repaired ->"],
    ["expanded", pickExpanded?.id, pickExpanded?.parentId, "-> error_seed"],
  ] as const) {
    if (!id || !parentId) {
      cliChecks.push(`no ${what} sample to show`);
      continue;
    }
    const r = runCli(["sample", "lineage", id]);
    const out = r.stdout;
    const expect = [
      `sample ${id}  ${what} by ${what === "repaired" ? "repair.labels" : "expand.errors"} in iteration 1`,
      `seed   ${parentId}  synthesized by synthesize.singleTurn in iteration 1`,
      "verdict rules: ",
      "pool of iteration 1: seed",
      "probe (iteration 1, ",
      ...COMMITTEE_JUDGES.map((j) => `judge ${j} (toolloop-sim-judge, iteration 1): `),
      `committee (iteration 1): `,
      decision,
    ];
    const missing = expect.filter((line) => !out.includes(line));
    if (r.status !== 0 || missing.length)
      cliChecks.push(`${what} ${id}: exit ${r.status}, missing ${JSON.stringify(missing)}; stderr ${r.stderr.slice(0, 300)}; stdout ${out.slice(0, 600)}`);
    else console.log(`[chaos] toolloop sample lineage ${id}:\n${out}`);
  }
  const unknown = runCli(["sample", "lineage", "no-such-sample"]);
  if (unknown.status !== 2 || !/no sample with id "no-such-sample"/.test(unknown.stderr))
    cliChecks.push(`unknown id: exit ${unknown.status}, stderr ${unknown.stderr.slice(0, 300)}`);
  checks.push({
    name: "`toolloop sample lineage` prints a repaired and an expanded sample's lineage; an unknown id exits 2",
    ok: cliChecks.length === 0,
    detail: cliChecks.join(" | ") || "printed both, unknown id exit 2",
  });
  checks.push({
    name: "no worker exited by itself",
    ok: h.crashes.length === 0,
    detail: h.crashes.length === 0 ? "none" : h.crashes.map((c) => `pid ${c.pid} code ${c.code} signal ${c.signal}`).join(" | "),
  });

  const failed = reportChecks(`lineage across a kill -9 during repair.labels (${campaignId}, ${elapsed} s)`, checks);
  if (failed.length > 0) throw new Error(`${failed.length} check(s) failed:\n${failed.map((c) => `- ${c.name}: ${c.detail}`).join("\n")}`);
});

function tallyBy<T>(rows: readonly T[], key: (r: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[key(r)] = (out[key(r)] ?? 0) + 1;
  return out;
}
