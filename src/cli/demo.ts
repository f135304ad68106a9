/**
 * `toolloop demo`: a whole campaign on embedded defaults. Starts the Temporal dev server (Web UI
 * on), PGlite (or DATABASE_URL), and the LLM simulator, runs the workers in this process, starts the
 * example campaign, follows its progress and prints what it produced.
 */
import fs from "node:fs";
import path from "node:path";
import { DefaultLogger, NativeConnection, Runtime } from "@temporalio/worker";
import { SdkLogger } from "../ops/sdkLogger.js";
import { createWorkers, runWorkers } from "../../workers/createWorkers.js";
import { freezeCampaignConfig } from "../config/frozen.js";
import { migrateDatabase, openDatabase } from "../db/client.js";
import { datasetExportsOf, policyScoresByIteration, sampleCountsByKindAndStatus, topRejectionReasons, usageByRoleAndModel } from "../db/repos/reports.js";
import { startSimulator } from "../llm/simulator/server.js";
import { startTemporalDevServer } from "../services/temporalDevServer.js";
import { installRoot } from "../training/paths.js";
import { listModelVersions } from "../db/repos/modelVersions.js";
import { formatModelVersions } from "./model.js";
import type { LauncherConfig } from "../training/launchers/config.js";
import { trainingJobLines } from "./demoTraining.js";
import { applyDemoOutputDir, demoCampaignOutputDir, demoReportServeCommand } from "./demoOutput.js";
import { outputTreeLines } from "./outputFolder.js";
import { loopIterationLines } from "./demoLoop.js";
import { stopServedPolicies } from "../training/servedPolicyJobs.js";
import { CliError, follow, readConfigFile, startCampaign, defaultCampaignId } from "./campaign.js";
import { cliEnv, workflowUiLink } from "./env.js";
import { connectClient } from "./temporal.js";
import { activityDepsFor } from "./worker.js";
import { campaignReportPath } from "../output/layout.js";
import { checkDatabaseUrl } from "../db/databaseUrl.js";
import { folderFlagProblem } from "../util/folderFlag.js";
import { thrownMessage } from "../util/thrown.js";
import { probability, wholeNumberUpTo } from "./options.js";
import { EXIT_ENVIRONMENT } from "./errors.js";
import type { DemoOptions } from "./demoCommand.js";

/**
 * Why the demo's BFCL numbers are low, in every category ("multiple" included): the simulated policy
 * reads argument values only where a question writes them after the parameter's name, as its own
 * query writer does (src/llm/simulator/text.ts), and BFCL's wording rarely does, so it declines most
 * entries. The request, the scoring and its choice among several functions are right
 * (test/unit/simulator/bfclMultiple.test.ts).
 */
const SIMULATED_BFCL_NOTE =
  "the simulated policy reads argument values only where a question writes them after the parameter's name; BFCL's own wording rarely does, so it declines most BFCL entries in every category: these numbers exercise the probe, they measure no model";

/** A minute per simulated call: far slower than any real endpoint, and past the demo config's endpoint timeouts. */
const MAX_LATENCY_MS = 60_000;

/** `toolloop demo` (registered in demoCommand.ts). */
export async function runDemoCommand(opts: DemoOptions): Promise<void> {
  // Every input is checked before anything starts: the dev server and the simulator are not
  // started only to be stopped again over a flag.
  const logLevel = parseLogLevel(opts.workerLogLevel);
  const simulatorRates = {
    latencyMs: wholeNumberUpTo("--latency-ms", opts.latencyMs, MAX_LATENCY_MS),
    mistakeRate: probability("--mistake-rate", opts.mistakeRate),
    silentMistakeRate: probability("--silent-mistake-rate", opts.silentMistakeRate),
    judgeErrorRate: probability("--judge-error-rate", opts.judgeErrorRate),
  };
  for (const [flag, dir] of [
    ["--state-dir", opts.stateDir],
    ["--output-dir", opts.outputDir],
  ] as const) {
    const problem = dir === undefined ? undefined : folderFlagProblem(flag, dir);
    if (problem) throw new CliError(problem);
  }
  const stateDir = path.resolve(opts.stateDir);
  const environmentDatabaseUrl = cliEnv().databaseUrl;
  if (environmentDatabaseUrl !== undefined) checkDatabaseUrl(environmentDatabaseUrl);
  const { raw, config } = readConfigFile(opts.config);
  const demoRaw = JSON.parse(JSON.stringify(raw)) as DemoConfig;
  const trainPython = demoRaw.stages.some((st) => st.name.startsWith("train.")) ? demoTrainPython() : undefined;

  // The demo prints its own progress; worker lifecycle chatter would bury it.
  Runtime.install({ logger: new SdkLogger(new DefaultLogger(logLevel)) });
  fs.mkdirSync(stateDir, { recursive: true });
  const databaseUrl = environmentDatabaseUrl ?? `pglite:${path.join(stateDir, "pglite")}`;
  const demoLauncher: LauncherConfig = { kind: "local", stateDir: path.join(stateDir, "local-jobs") };
  // What has started, stopped in reverse order on every way out: a dev server (a child process)
  // or the simulator (a listening socket) left behind would keep this process from exiting.
  const stops: { what: string; stop: () => Promise<unknown> }[] = [];
  let failed = false;
  try {
    console.log("[demo] starting the Temporal dev server ...");
    const temporal = await startTemporalDevServer({ stateDir: path.join(stateDir, "temporal"), log: (m) => console.log(`[temporal] ${m}`) });
    stops.push({ what: "the Temporal dev server", stop: () => temporal.stop() });
    const sim = await startSimulator({ seed: config.seed, maxConcurrency: 64, ...simulatorRates });
    stops.push({ what: "the LLM simulator", stop: () => sim.close() });
    const db = await openDatabase(databaseUrl);
    stops.push({ what: "the database", stop: () => db.close() });
    await migrateDatabase(db);
    console.log(`[demo] database: ${db.driver === "pglite" ? `PGlite at ${databaseUrl.slice(7)}` : "PostgreSQL (DATABASE_URL)"}`);
    console.log(`[demo] LLM endpoint: ${sim.url} (toolloop LLM simulator — scripted, not a model)`);

    // Point every endpoint of the example config at the simulator; the training stages run on the
    // local launcher with the training venv's Python and the stand-in trainer (simulated).
    for (const ep of Object.values(demoRaw.endpoints)) ep.baseUrl = sim.url;
    applyDemoOutputDir(demoRaw, stateDir, opts.outputDir);
    if (trainPython !== undefined) {
      demoRaw.cluster = { ...demoRaw.cluster, python: trainPython, launcher: demoLauncher };
      for (const st of demoRaw.stages) if (st.name === "serve.policy") st.simulator = { ...st.simulator, mistakeRate: simulatorRates.mistakeRate };
      console.log("[demo] training: the STAND-IN trainer (simulated: it trains nothing; its checkpoints carry a profile the simulator serves)");
    }

    const e = { ...cliEnv(), temporalAddress: temporal.address, namespace: temporal.namespace, uiUrl: temporal.uiUrl };
    const connection = await NativeConnection.connect({ address: temporal.address });
    stops.push({ what: "the workers' Temporal connection", stop: () => connection.close() });
    const { client, close } = await connectClient(e);
    stops.push({ what: "the Temporal client", stop: close });
    const activityDeps = { ...activityDepsFor(db, stateDir, () => undefined), temporalClient: async () => client };
    const workers = await createWorkers({ connection, namespace: e.namespace, queuePrefix: e.queuePrefix, activityDeps });
    const running = runWorkers(workers);
    stops.push({
      what: "the workers",
      stop: async () => {
        for (const w of workers) if (w.getState() === "RUNNING") w.shutdown();
        await running.catch(() => undefined);
      },
    });

    const campaignId = defaultCampaignId(config);
    const frozen = freezeCampaignConfig(demoRaw, { configDir: path.dirname(path.resolve(opts.config)) });
    if (!frozen.ok) throw frozen.error;
    const handle = await startCampaign(client, e, { frozen: frozen.frozen, campaignId });
    // The last iteration's served policy outlives the campaign by design; the demo stops it when it
    // stops, a failed campaign's too.
    stops.push({ what: "the served policies", stop: () => stopServedPolicies(db.db, campaignId, demoLauncher, (m) => console.log(`[demo] ${m}`)) });
    const outputDir = demoCampaignOutputDir(demoRaw, stateDir, campaignId);
    console.log(`[demo] campaign ${campaignId} started: workflow ${handle.workflowId}`);
    console.log(`[demo] outputs: ${outputDir}`);
    console.log(`[demo] Temporal UI: ${workflowUiLink(e, handle.workflowId)}`);
    const final = await follow(client, handle.workflowId, 1000);
    console.log("\n[demo] summary");
    for (const it of final.completedIterations) console.log(`  iteration ${it.iteration}: ${it.state}, samples written ${JSON.stringify(it.samples)}`);
    for (const r of await sampleCountsByKindAndStatus(db.db, campaignId))
      console.log(`  iteration ${r.iteration} ${r.kind.padEnd(12)} ${r.status.padEnd(9)} ${r.n}`);
    const top = await topRejectionReasons(db.db, campaignId, 5);
    if (top.length) console.log("  top rejection reasons:");
    for (const r of top) console.log(`    ${r.n} x ${r.reason}`);
    for (const r of await usageByRoleAndModel(db.db, campaignId))
      console.log(`  LLM usage ${r.role}/${r.model}: ${r.requests} requests, ${r.promptTokens} prompt + ${r.completionTokens} completion tokens`);
    for (const r of await datasetExportsOf(db.db, campaignId))
      console.log(`  dataset iteration ${r.iteration}: ${r.path} (${r.rows} rows, sha256 ${String(r.sha256).slice(0, 16)}…)`);
    for (const line of await trainingJobLines(db.db, campaignId)) console.log(`  ${line}`);
    const versions = await listModelVersions(db.db, campaignId);
    if (versions.length) console.log("  policy lineage (toolloop model list):");
    for (const line of formatModelVersions(versions)) console.log(`    ${line.replaceAll("\n", "\n    ")}`);
    const bfclScores = await policyScoresByIteration(db.db, campaignId);
    for (const r of bfclScores)
      console.log(
        `  BFCL fast check, iteration ${r.iteration} (policy ${r.models.join(", ")}): ${(r.accuracy * 100).toFixed(1)}% of ${r.total}${r.simulated ? " (SIMULATED)" : ""}`,
      );
    if (bfclScores.length > 0) console.log(`  (${SIMULATED_BFCL_NOTE})`);
    const loop = await loopIterationLines(db.db, campaignId, config.iterations);
    if (loop.length) console.log("\n[demo] the self-evolving loop, per iteration");
    for (const it of loop) for (const line of it.lines) console.log(`  ${line}`);
    if (versions.some((v) => v.simulated))
      console.log("  (SIMULATED training: the stand-in trainer and the LLM simulator; a real run sets trainer: verl and serve.policy engine: vllm)");
    console.log(`\n[demo] outputs of campaign ${campaignId}: ${outputDir}`);
    for (const line of outputTreeLines(outputDir)) console.log(`  ${line}`);
    const report = campaignReportPath(outputDir);
    if (fs.existsSync(report))
      console.log(`[demo] report with charts: ${report} (or: ${demoReportServeCommand(campaignId, databaseUrl, environmentDatabaseUrl !== undefined)})`);
    if (opts.keepRunning) {
      console.log(`[demo] still running; Temporal UI at ${temporal.uiUrl}. Ctrl-C to stop.`);
      await running;
    }
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    for (const { what, stop } of stops.reverse()) {
      // One that cannot be stopped must not leave the others running.
      await stop().catch((err: unknown) => console.error(`[demo] stopping ${what} failed: ${thrownMessage(err)}`));
    }
    console.log(failed ? "[demo] stopped after a failure" : "[demo] done; services stopped");
  }
}

interface DemoConfig {
  output?: { dir?: string };
  endpoints: Record<string, { baseUrl: string }>;
  stages: { name: string; simulator?: Record<string, unknown> }[];
  cluster?: Record<string, unknown>;
}

/** The training venv scripts/demo.sh makes (scripts/ensure-train-venv.sh): pyarrow for the stand-in trainer. */
function demoTrainPython(): string {
  const py = path.join(installRoot(), ".venv-train", "bin", "python");
  if (!fs.existsSync(py))
    throw new CliError(`the demo's training stages need ${py}: run scripts/ensure-train-venv.sh (scripts/demo.sh does)`, EXIT_ENVIRONMENT);
  return py;
}

const LOG_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] as const;

function parseLogLevel(level: string): (typeof LOG_LEVELS)[number] {
  const upper = level.toUpperCase();
  const found = LOG_LEVELS.find((l) => l === upper);
  if (!found) throw new CliError(`--worker-log-level: expected one of ${LOG_LEVELS.join(", ")}, got "${level}"`);
  return found;
}
