import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { rewardConfigSchema } from "../../src/reward/config.js";
import { rewardConfigId, startRewardService } from "../../src/reward/service.js";
import { scoreResponse } from "../../src/reward/score.js";
import { REWARD_CASES } from "./cases.js";

const post = async (url: string, body: unknown, raw = false) => {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: raw ? (body as string) : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test("reward service: health, config registration, single and batch scoring equal the in-process reward", async () => {
  const service = await startRewardService({ maxBatchItems: 100 });
  try {
    const health = await fetch(`${service.url}/health`);
    assert.deepEqual(await health.json(), { status: "ok", configs: 0 });

    const config = rewardConfigSchema.parse({ partialCredit: "perArgument" });
    const first = await post(`${service.url}/v1/configs`, { partialCredit: "perArgument" });
    assert.equal(first.status, 200);
    assert.equal(first.body.config_id, rewardConfigId(config));
    assert.equal(
      (await post(`${service.url}/v1/configs`, { partialCredit: "perArgument", kind: "gatedComposite" })).body.config_id,
      first.body.config_id,
      "idempotent",
    );
    assert.equal(service.registerConfig(config), first.body.config_id);
    assert.deepEqual(await (await fetch(`${service.url}/health`)).json(), { status: "ok", configs: 1 });

    const id = first.body.config_id;
    for (const c of REWARD_CASES.slice(0, 6)) {
      const r = await post(`${service.url}/v1/score`, { config_id: id, ...c.item });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, JSON.parse(JSON.stringify(scoreResponse(config, c.item))), c.name);
    }
    const items = REWARD_CASES.map((c) => c.item);
    const batch = await post(`${service.url}/v1/score/batch`, { config_id: id, items });
    assert.equal(batch.status, 200);
    assert.deepEqual(batch.body.results, JSON.parse(JSON.stringify(items.map((it) => scoreResponse(config, it)))));

    // The packed form the shim sends: columns, shared strings in tables, results in columns.
    const truths = [...new Set(items.map((it) => it.ground_truth))];
    const toolsOf = (it: (typeof items)[number]) => ((it.extra_info as { tools?: string } | null)?.tools ?? null) as string | null;
    const tools = [...new Set(items.map(toolsOf))];
    const packed = await post(`${service.url}/v1/score/batch`, {
      config_id: id,
      solution_strs: items.map((it) => it.solution_str),
      data_sources: items.map((it) => it.data_source),
      ground_truth_table: truths,
      ground_truth_index: items.map((it) => truths.indexOf(it.ground_truth)),
      tools_table: tools,
      tools_index: items.map((it) => tools.indexOf(toolsOf(it))),
    });
    assert.equal(packed.status, 200, JSON.stringify(packed.body));
    const expected = items.map((it) => scoreResponse(config, it));
    assert.deepEqual(packed.body, {
      score: expected.map((r) => r.score),
      format: expected.map((r) => r.format),
      execution: expected.map((r) => r.execution),
      reasoning: expected.map((r) => r.reasoning),
      execution_correct: expected.map((r) => r.execution_correct),
      reason: expected.map((r) => r.reason ?? ""),
    });
    const badPacked = await post(`${service.url}/v1/score/batch`, {
      config_id: id,
      solution_strs: ["a", "b"],
      data_sources: ["toolloop", "toolloop"],
      ground_truth_table: ["{}"],
      ground_truth_index: [0, 1],
      tools_table: [null],
      tools_index: [0, 0],
    });
    assert.equal(badPacked.status, 400);
    assert.match(String(badPacked.body.error), /^ground_truth_index\[1\]: expected an index/);

    const unknown = await post(`${service.url}/v1/score/batch`, { config_id: "0123456789abcdef", items });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, "unknown_config");
  } finally {
    await service.close();
  }
});

test("reward service: bad bodies get 400 naming the field, limits hold, and the service stays up", async () => {
  const service = await startRewardService({ maxBodyBytes: 4096, maxBatchItems: 2 });
  const id = service.registerConfig(rewardConfigSchema.parse({}));
  const item = REWARD_CASES[0]!.item;
  try {
    const cases: [unknown, boolean, string][] = [
      ["{not json", true, "body: not valid JSON"],
      [[1, 2], false, "body: expected a JSON object"],
      [{ items: [] }, false, "config_id"],
      [{ config_id: id, items: "x" }, false, "items: expected a list"],
      [{ config_id: id, items: [item, item, item] }, false, "exceed the limit of 2"],
      [{ config_id: id, items: [item, { ...item, solution_str: 3 }] }, false, "items[1].solution_str"],
      [{ config_id: id, items: [item, null] }, false, "items[1]: expected a JSON object"],
    ];
    for (const [body, raw, message] of cases) {
      const r = await post(`${service.url}/v1/score/batch`, body, raw);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.code, "bad_request");
      assert.ok(String(r.body.error).includes(message), `${String(r.body.error)} should mention ${message}`);
    }
    const badConfig = await post(`${service.url}/v1/configs`, { weights: { format: "high" }, template: "xml" });
    assert.equal(badConfig.status, 400);
    assert.match(String(badConfig.body.error), /weights\.format: .*template: /);
    const single = await post(`${service.url}/v1/score`, { config_id: id, data_source: "toolloop", ground_truth: "{}" });
    assert.equal(single.status, 400);
    assert.match(String(single.body.error), /^solution_str: expected a string/);

    const big = await post(`${service.url}/v1/score/batch`, { config_id: id, items: [{ ...item, solution_str: "x".repeat(10_000) }] });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, "body_too_large");
    // Chunked (no content-length): cut off while streaming.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${service.url}/v1/score/batch`, { method: "POST" }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
      for (let i = 0; i < 10; i++) req.write("x".repeat(1000));
      req.end();
    });
    assert.equal(chunked, 413);

    assert.equal((await fetch(`${service.url}/nope`)).status, 404);
    assert.equal((await fetch(`${service.url}/v1/score`)).status, 405);
    assert.equal((await fetch(`${service.url}/health`)).status, 200, "still up");
  } finally {
    await service.close();
  }
});

test("reward service: keep-alive reuses one connection; requests over the concurrency bound get 503", async () => {
  const service = await startRewardService({ maxConcurrentRequests: 1 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
      const req = http.get(`${service.url}/health`, { agent }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode!, reused: req.reusedSocket }));
      });
      req.on("error", reject);
    });
  try {
    assert.equal((await get()).reused, false);
    assert.deepEqual(await get(), { status: 200, reused: true });

    // A request whose body never ends holds the only slot.
    const held = http.request(`${service.url}/v1/score`, { method: "POST", headers: { "content-length": "100" } });
    held.on("error", () => undefined);
    held.write("{");
    await new Promise((r) => setTimeout(r, 100));
    const busy = await fetch(`${service.url}/health`);
    assert.equal(busy.status, 503);
    assert.equal(((await busy.json()) as { code: string }).code, "busy");
    held.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetch(`${service.url}/health`)).status, 200);
  } finally {
    agent.destroy();
    await service.close();
  }
});
