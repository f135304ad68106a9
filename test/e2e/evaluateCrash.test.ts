/**
 * Crash during evaluation: a campaign whose only stage is evaluate.bfcl runs the official bfcl-eval
 * against the LLM simulator in a real worker process, which is killed with SIGKILL while result
 * lines are being written. A new worker takes over; the campaign completes with scores stored, every
 * id once in the result files, and no finished id sent to the endpoint again. A recording proxy in
 * front of the simulator maps every chat request back to its BFCL entry id (by its user messages).
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { parseCampaignConfig, type CampaignConfigInput } from "../../src/config/campaignConfig.js";
import { listBfclScores } from "../../src/db/repos/bfclScores.js";
import {
  bfclPackageInfo,
  ENSURE_VENV_SCRIPT,
  ensureBfclPython,
  packageCategoryIds,
  REPO_ROOT,
  resultFilePath,
  SHIM_PATH,
  type BfclPackageInfo,
} from "../../src/evaluation/bfclEval.js";
import { packageCategoryName, type BfclCategory } from "../../src/evaluation/categories.js";
import { startSimulator, type SimulatorHandle } from "../../src/llm/simulator/server.js";
import { bfclIterationDir } from "../../src/stages/evaluate/bfcl/handler.js";
import type { StageContext } from "../../src/framework/stage.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

// Same rule as test/evaluation: a bare checkout may lack the bfcl-eval venv; CI must have it.
const venvAvailable =
  Boolean(process.env.TOOLLOOP_BFCL_PYTHON) || fs.existsSync(path.join(REPO_ROOT, ".venv-bfcl", "bin", "python")) || fs.existsSync(ENSURE_VENV_SCRIPT);
const skip =
  !venvAvailable && process.env.CI !== "true" ? "no bfcl-eval environment (.venv-bfcl or scripts/ensure-bfcl-venv.sh); CI=true makes this a failure" : false;

const CATEGORIES: BfclCategory[] = ["simple", "irrelevance", "multiple"];
const LIMIT = 15;
const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");

interface RecordedRequest {
  key: string;
  at: number;
}

interface RecordingProxy {
  url: string;
  chatRequests: RecordedRequest[];
  close(): Promise<void>;
}

let env: TestEnv;
let sim: SimulatorHandle;
let proxy: RecordingProxy;
let info: BfclPackageInfo;
const workers: ChildProcess[] = [];
/** Output of every worker process, shown when the campaign fails. */
const workerLogs: string[] = [];

/** What identifies a BFCL single-turn entry in a chat request: its user messages, in order. */
function userKey(messages: unknown): string {
  if (!Array.isArray(messages)) return "";
  return messages
    .filter((m): m is { role: string; content: unknown } => typeof m === "object" && m !== null && (m as { role?: unknown }).role === "user")
    .map((m) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content)))
    .join("\n");
}

/** Forwards everything to the simulator and notes each chat request when it arrives. */
async function startRecordingProxy(targetOrigin: string): Promise<RecordingProxy> {
  const chatRequests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const at = Date.now();
      if (req.method === "POST" && (req.url ?? "").startsWith("/v1/chat/completions")) {
        let key = "";
        try {
          key = userKey((JSON.parse(raw.toString("utf8")) as { messages?: unknown }).messages);
        } catch {
          key = "<unparseable body>";
        }
        chatRequests.push({ key, at });
      }
      const headers: Record<string, string> = {};
      for (const h of ["content-type", "authorization"]) {
        const v = req.headers[h];
        if (typeof v === "string") headers[h] = v;
      }
      fetch(`${targetOrigin}${req.url ?? "/"}`, { method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? undefined : raw })
        .then(async (upstream) => {
          const body = Buffer.from(await upstream.arrayBuffer());
          res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
          res.end(body);
        })
        .catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { message: `recording proxy: ${String(err)}` } }));
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("recording proxy: no port");
  return {
    url: `http://127.0.0.1:${address.port}/v1`,
    chatRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, [cliPath, "worker", "--base-dir", env.workDir], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.temporalAddress, DATABASE_URL: env.databaseUrl, TOOLLOOP_QUEUE_PREFIX: env.queuePrefix },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const index = workerLogs.push("") - 1;
  const append = (d: Buffer) => (workerLogs[index] += d.toString());
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  child.on("exit", (code, signal) => {
    if (code && code !== 0) console.error(`worker exited ${code} ${signal ?? ""}\n${(workerLogs[index] ?? "").slice(-2000)}`);
  });
  workers.push(child);
  return child;
}

/** bfcl-eval processes working in this test's directory (its result dirs are under env.workDir). */
function bfclProcessesOfThisTest(): number[] {
  let out: string;
  try {
    out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  } catch {
    return [];
  }
  return out
    .split("\n")
    .filter((line) => line.includes(SHIM_PATH) && line.includes(env.workDir))
    .map((line) => Number(line.trim().split(/\s+/)[0]))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** A Temporal failure's messages down to the root cause (the stage's own error). */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) parts.push(e.message);
  return parts.join(" <- ");
}

/** Ids of the complete JSON lines of a result file (a line cut short by the kill does not count). */
function resultIds(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const ids: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const id = (JSON.parse(line) as { id?: unknown }).id;
      if (typeof id === "string") ids.push(id);
    } catch {
      // cut short
    }
  }
  return ids;
}

before(async () => {
  if (skip) return;
  env = await createTestEnv("evalcrash");
  // Capacity 2 and 400 ms per request: the two categories in flight need ~6 s, so a bfcl-eval
  // process that outlived its worker would still be sending requests when the test looks.
  sim = await startSimulator({ seed: 5, latencyMs: 400, maxConcurrency: 2, quiet: true });
  proxy = await startRecordingProxy(new URL(sim.url).origin);
  info = await bfclPackageInfo(await ensureBfclPython());
});

after(async () => {
  for (const p of workers) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    p.kill("SIGTERM");
    await Promise.race([new Promise((r) => p.once("exit", r)), new Promise((r) => setTimeout(r, 10_000))]);
  }
  // Only if the parent-death watchdog failed: leave no bfcl-eval behind.
  if (env) for (const pid of bfclProcessesOfThisTest()) process.kill(pid, "SIGKILL");
  await proxy?.close();
  await sim?.close();
  await env?.close();
});

test("kill -9 of the worker during evaluate.bfcl: the campaign completes and no finished id is generated again", { skip, timeout: 175_000 }, async (t) => {
  const campaignId = `evalcrash-${Date.now().toString(36)}`;
  const raw: CampaignConfigInput = {
    name: "evalcrash",
    seed: 1,
    iterations: 1,
    endpoints: { sim: { baseUrl: proxy.url, maxConcurrency: 2, timeoutMs: 10_000, maxRetries: 1 } },
    roles: { generator: { endpoint: "sim", model: "toolloop-sim" }, policy: { endpoint: "sim", model: "toolloop-sim-policy" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "evaluate.bfcl", categories: CATEGORIES, limitPerCategory: LIMIT }],
    concurrency: { batchesInParallel: 2 },
    onStageFailure: "fail",
  };
  const parsed = parseCampaignConfig(raw);
  if (!parsed.ok) throw parsed.error;
  const iterDir = bfclIterationDir({ deps: { baseDir: env.workDir } as StageContext["deps"], config: parsed.config, campaignId, iteration: 1 });

  // Expected ids per category and the request key -> id map (keys must be unambiguous).
  const expected = new Map<BfclCategory, string[]>();
  const idByKey = new Map<string, string>();
  const resultFiles = new Map<BfclCategory, string>();
  for (const category of CATEGORIES) {
    const pkg = packageCategoryName(category, info.layout);
    const ids = (await packageCategoryIds(info, pkg)).slice(0, LIMIT);
    expected.set(category, ids);
    resultFiles.set(category, resultFilePath(path.join(iterDir, category, "result"), info, pkg));
    const dataFile = path.join(info.dataDir, `${info.prefix}_${pkg}.json`);
    const wanted = new Set(ids);
    for (const line of fs.readFileSync(dataFile, "utf8").split("\n")) {
      if (line.trim() === "") continue;
      const entry = JSON.parse(line) as { id: string; question: unknown[] };
      if (!wanted.has(entry.id)) continue;
      const key = userKey(entry.question[0]);
      assert.ok(!idByKey.has(key), `entries ${idByKey.get(key)} and ${entry.id} send the same user messages; the proxy could not tell them apart`);
      idByKey.set(key, entry.id);
    }
  }
  const allExpected = [...expected.values()].flat();
  const snapshotIds = () => new Set(CATEGORIES.flatMap((c) => resultIds(resultFiles.get(c) as string)));

  const first = startWorkerProcess();
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: raw, campaignId }],
  });
  await waitFor("bfcl-eval to write its first results", async () => (snapshotIds().size >= 3 ? true : undefined), 120_000, 25);
  first.kill("SIGKILL");
  const killedAt = Date.now();
  await new Promise((r) => first.once("exit", r));
  const atKill = snapshotIds();
  assert.ok(atKill.size < allExpected.length, `killed before generation finished (${atKill.size}/${allExpected.length} results)`);

  // The orphaned bfcl-eval processes notice their parent is gone and end themselves (within ~0.2 s),
  // long before they could have finished their categories.
  await waitFor("the killed worker's bfcl-eval processes to exit", async () => (bfclProcessesOfThisTest().length === 0 ? true : undefined), 2_500, 100);
  const settled = snapshotIds();
  const requestsWhenSettled = proxy.chatRequests.length;
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(proxy.chatRequests.length, requestsWhenSettled, "no requests while no worker is alive");
  assert.deepEqual(snapshotIds(), settled, "result files unchanged while no worker is alive");
  assert.ok(settled.size < allExpected.length, "the killed worker's categories were left unfinished");
  for (const id of atKill) assert.ok(settled.has(id), `${id} vanished from its result file after the kill`);

  const restartedAt = Date.now();
  startWorkerProcess();
  const result = (await handle.result().catch((err: unknown) => {
    throw new Error(`campaign failed: ${causeChain(err)}\n${workerLogs.map((l, i) => `--- worker ${i + 1}:\n${l.slice(-3000)}`).join("\n")}`);
  })) as { state: string };
  assert.equal(result.state, "completed");

  // Scores: one row per category and the group rows, for iteration 1.
  const rows = await listBfclScores(env.db.db, campaignId, 1, "bfcl-eval");
  const byCategory = new Map(rows.map((r) => [r.category, r]));
  for (const category of CATEGORIES) {
    const row = byCategory.get(category);
    assert.ok(row, `bfcl_scores row for ${category}`);
    assert.equal(row.total, LIMIT, `${category}: total`);
    assert.ok(Math.abs(row.accuracy - row.correct / LIMIT) < 1e-12, `${category}: accuracy = correct / total`);
  }
  for (const group of ["overall", "non_live", "live", "multi_turn"]) assert.ok(byCategory.has(group), `bfcl_scores row ${group}`);
  const overall = byCategory.get("overall")?.accuracy;
  assert.ok(typeof overall === "number" && overall >= 0 && overall <= 1, `overall accuracy ${overall}`);

  // Result files: exactly the expected ids, each once.
  for (const category of CATEGORIES) {
    const ids = resultIds(resultFiles.get(category) as string);
    assert.equal(new Set(ids).size, ids.length, `${category}: an id appears twice in the result file`);
    assert.deepEqual([...ids].sort(), [...(expected.get(category) as string[])].sort(), `${category}: result ids`);
  }

  // Requests: every one is a known entry; finished ids were asked once. An id asked twice was in
  // flight when the worker died (asked, no result line yet) and was asked again by the retry.
  const requestsById = new Map<string, RecordedRequest[]>();
  for (const r of proxy.chatRequests) {
    const id = idByKey.get(r.key);
    assert.ok(id, `a chat request matches no evaluated entry: ${r.key.slice(0, 120)}`);
    requestsById.set(id, [...(requestsById.get(id) ?? []), r]);
  }
  const repeated: string[] = [];
  for (const id of allExpected) {
    const requests = requestsById.get(id) ?? [];
    assert.ok(requests.length >= 1, `${id} never reached the endpoint`);
    if (settled.has(id)) assert.equal(requests.length, 1, `${id} had a result when the worker died but was requested ${requests.length} times`);
    if (requests.length > 1) {
      repeated.push(id);
      assert.equal(requests.length, 2, `${id} requested ${requests.length} times`);
      assert.ok((requests[0]?.at ?? Infinity) <= killedAt + 1000, `${id}: first request after the kill, so it was not in flight then`);
      assert.ok((requests[1]?.at ?? 0) >= restartedAt, `${id}: asked again before the new worker started`);
    }
  }
  // At most the requests in flight at the kill: 2 per category process, 2 processes.
  assert.ok(repeated.length <= 4, `ids requested again: ${repeated.join(", ")}`);
  assert.equal(proxy.chatRequests.length, allExpected.length + repeated.length);
  const resumedAt = Math.min(...proxy.chatRequests.filter((r) => r.at >= restartedAt).map((r) => r.at));
  t.diagnostic(
    `results at kill ${atKill.size}, after the orphans exited ${settled.size} of ${allExpected.length}; ` +
      `generation resumed ${((resumedAt - killedAt) / 1000).toFixed(1)} s after the kill; asked again (in flight at the kill): ${repeated.join(", ") || "none"}`,
  );
});
