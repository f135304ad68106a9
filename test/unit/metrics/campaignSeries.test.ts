/**
 * A worker's metric series of campaigns that stopped moving are removed (src/metrics/toolloopMetrics.ts
 * forgetIdleCampaigns). Before, every campaign a worker ever ran kept its few dozen series (a
 * histogram's buckets each) until the worker restarted, served at every scrape: a worker running
 * weekly campaigns for a year held them for every week.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CAMPAIGN_SERIES_IDLE_MS,
  forgetIdleCampaigns,
  llmRequestDuration,
  llmRequests,
  metricsRegistry,
  samplesWritten,
  stageBatches,
} from "../../../src/metrics/toolloopMetrics.js";

const lines = async (campaign: string) => (await metricsRegistry.metrics()).split("\n").filter((l) => l.includes(`campaign="${campaign}"`));

describe("metric series of idle campaigns", () => {
  it("are removed once none of them moved for the idle time; a running campaign's and those of no campaign stay", async () => {
    const ended = `weekly-${Date.now().toString(36)}`;
    const running = `${ended}-next`;
    const work = (campaign: string) => {
      llmRequests.inc({ campaign, role: "generator", endpoint: "vllm", outcome: "ok", simulated: "false" });
      llmRequestDuration.observe({ campaign, role: "generator", endpoint: "vllm", outcome: "ok" }, 0.3);
      samplesWritten.inc({ campaign, kind: "standard", origin: "synthesized" });
      stageBatches.inc({ campaign, stage: "synthesize.singleTurn", outcome: "done" });
    };
    work(ended);
    work(running);
    work("");
    const t0 = Date.now();
    assert.deepEqual(await forgetIdleCampaigns({ now: t0 }), [], "a first look removes nothing");
    assert.ok((await lines(ended)).length > 10, "the histogram's buckets and the counters");

    // Within the idle time: kept, even unchanged.
    work(running);
    assert.deepEqual(await forgetIdleCampaigns({ now: t0 + CAMPAIGN_SERIES_IDLE_MS / 2 }), []);
    work(running);
    assert.deepEqual(await forgetIdleCampaigns({ now: t0 + CAMPAIGN_SERIES_IDLE_MS }), [ended], "unchanged for the idle time");
    assert.deepEqual(await lines(ended), [], "every series of it, histogram buckets included");
    assert.ok((await lines(running)).length > 10, "the campaign still moving keeps its series");
    assert.ok((await lines("")).length > 10, "work of no campaign keeps its series");

    // It moves again (resumed after waiting for an operator): its series start again from zero.
    llmRequests.inc({ campaign: ended, role: "generator", endpoint: "vllm", outcome: "ok", simulated: "false" });
    assert.deepEqual(await lines(ended), [
      'toolloop_llm_requests_total{campaign="' + ended + '",role="generator",endpoint="vllm",outcome="ok",simulated="false"} 1',
    ]);
  });
});
