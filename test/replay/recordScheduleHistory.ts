/**
 * Records the history of a campaign run started by a Temporal Schedule (`trigger`): its start event
 * carries the TemporalScheduledStartTime search attribute the workflow derives its campaign id
 * from, so the replay test shows that reading it is deterministic. The scheduled path adds no
 * command (the registration activity's input carries the schedule); the file is named after the
 * newest patch the campaign's path records, like recordHistories.ts's files.
 * Run: `node dist/test/replay/recordScheduleHistory.js` with TEMPORAL_ADDRESS and DATABASE_URL set
 * (or none, to start private servers). Commit the JSON file it writes and index.json.
 */
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { freezeCampaignConfig } from "../../src/config/frozen.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { upsertSchedule } from "../../src/schedules/temporalSchedule.js";
import { historySaver } from "./historyFiles.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor } from "../helpers/testEnv.js";

const NAME = "campaignWorkflow-scheduled-run-frozen-config";

const env = await createTestEnv("record-schedule");
const sim = await startSimulator({ seed: 1, latencyMs: 5, maxConcurrency: 16, quiet: true });
const workers = await env.startWorkers();
const scheduleId = `replay-sched-${Date.now().toString(36)}`;
try {
  const raw = { ...simulatorCampaign(sim.url, { count: 10, batchSize: 5 }), schedules: [{ id: scheduleId, spec: { cron: ["0 6 * * MON"] } }] };
  const parsed = parseCampaignConfig(raw);
  if (!parsed.ok) throw parsed.error;
  const frozen = freezeCampaignConfig(raw, { configDir: env.workDir });
  if (!frozen.ok) throw frozen.error;
  await upsertSchedule(env.client, { schedule: parsed.config.schedules![0]!, frozen: frozen.frozen, configHash: frozen.hash, queuePrefix: env.queuePrefix });
  const handle = env.client.schedule.getHandle(scheduleId);
  await handle.trigger();
  const workflowId = await waitFor("the triggered run", async () => (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId, 30_000);
  await env.client.workflow.getHandle(workflowId).result();
  await handle.delete();
  (await historySaver(env))(workflowId, `${NAME}.json`);
} finally {
  await workers.stop();
  await sim.close();
  await env.close();
}
