/**
 * Records a campaign aborted while it registers (its registration held before it reads the row,
 * test/helpers/registrationGate.ts). Built from today's code it records the
 * abort-waits-for-registration path (the marker; the registration cancelled and waited for; the
 * abort written after it); built from the code before that patch, the old path (the registration
 * cancelled and left running, the abort written at once). With --rerun the campaign is a rerun: an
 * earlier run under the same id registered and was aborted, and the run started again after it
 * (`campaign start --id`) is the one aborted while it registers, the one recorded. Run:
 * `node dist/test/replay/recordRegistrationAbortHistory.js [tag] [--rerun]` with TEMPORAL_ADDRESS and
 * DATABASE_URL set (or none, to start private servers); the tag names the file
 * (campaignWorkflow-abort-registering-<tag>.json, with --rerun
 * campaignWorkflow-abort-registering-rerun-<tag>.json; default tag abort-waits-for-registration). Commit it.
 */
import { historySaver } from "./historyFiles.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { abortWhileRegistering, registeredThenAborted, registrationGate } from "../helpers/registrationGate.js";
import { createTestEnv } from "../helpers/testEnv.js";

const args = process.argv.slice(2);
const rerun = args.includes("--rerun");
const tag = args.find((a) => a !== "--rerun") ?? "abort-waits-for-registration";
const env = await createTestEnv("record-abort-registering");
const sim = await startSimulator({ seed: 3, latencyMs: 200, maxConcurrency: 8, quiet: true });
const gate = registrationGate();
const workers = await env.startWorkers({ getDb: gate.getDb });
const save = await historySaver(env);
try {
  const id = `replay-abort-registering-${rerun ? "rerun-" : ""}${Date.now()}`;
  const config = simulatorCampaign(sim.url, { count: 40, batchSize: 10 });
  if (rerun) {
    const earlier = await registeredThenAborted(env, id, config);
    if (earlier !== "aborted") throw new Error(`the earlier run left the campaigns row ${earlier ?? "missing"}, not aborted`);
  }
  const r = await abortWhileRegistering(env, gate, workers.workers, id, config);
  console.log(`the campaign ended ${r.outcome}; the abort was written ${r.wroteAbortAtOnce ? "at once" : "after the registration"}`);
  save(r.handle.workflowId, `campaignWorkflow-abort-registering-${rerun ? "rerun-" : ""}${tag}.json`, r.handle.firstExecutionRunId);
} finally {
  gate.release();
  await workers.stop();
  await sim.close();
  await env.close();
}
