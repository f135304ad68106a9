/**
 * Chaos: kill -9 of the worker mid-dialogue during synthesize.multiTurn (twice). On restart every
 * dialogue resumes at its last stored turn: the campaign completes with no operator action, each
 * dialogue's turns are one contiguous run of seqs with every tool call answered by exactly one tool
 * message, and each tool call reached the tool server once — except a call a kill interrupted after
 * it was recorded as started and before its result was (the simulator's tool server is idempotent,
 * so the engine may ask it again; any other call asked twice would be a duplicate execution).
 *
 * The tool server's requests are counted by a small proxy in front of the simulator: it reads each
 * answered tool-server request's case (the call and the session's earlier calls with their results)
 * and counts answers per case; the stored dialogues say which cases there must be.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { inArray, like } from "drizzle-orm";
import type { CampaignConfigInput } from "../../src/config/campaignConfig.js";
import { iterationDialogues, dialogueTurnsOf } from "../../src/db/repos/dialogues.js";
import { dialogues as dialoguesTable, toolExecutions } from "../../src/db/schema.js";
import { historyResult, markerPattern, TOOL_SERVER_MARKER, type ToolHistoryEntry } from "../../src/dialogue/protocol.js";
import type { DialogueTurn } from "../../src/dialogue/types.js";
import { parseCaseMessage } from "../../src/judging/protocol.js";
import { canonicalJson } from "../../src/util/ids.js";
import { verifyRules } from "../../src/verification/rules.js";
import { createChaosHarness, sleep, type ChaosHarness } from "./harness.js";

let h: ChaosHarness;
let proxy: ToolServerCounter;

before(async () => {
  h = await createChaosHarness("multiturn-kill", { seed: 13, latencyMs: 40, maxConcurrency: 8 });
  proxy = await startToolServerCounter(h.sim.url);
});
after(async () => {
  await proxy?.close();
  await h?.close();
});

/** The tool server's case as a key: the call and the session's history (what makes it one execution). */
const caseKey = (call: { name: string; arguments: unknown }, history: readonly ToolHistoryEntry[]) => canonicalJson({ call, history });

interface ToolServerCounter {
  url: string;
  /** Answered (HTTP 200) tool-server requests per case key. */
  answered: Map<string, number>;
  close(): Promise<void>;
}

/** Forwards every request to the simulator; counts the tool-server requests it answered, per case. */
async function startToolServerCounter(target: string): Promise<ToolServerCounter> {
  const answered = new Map<string, number>();
  const toolServer = markerPattern(TOOL_SERVER_MARKER);
  const base = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const upstream = http.request(
        { host: base.hostname, port: base.port, path: req.url, method: req.method, headers: { ...req.headers, host: base.host } },
        (up) => {
          const out: Buffer[] = [];
          up.on("data", (c: Buffer) => out.push(c));
          up.on("end", () => {
            if (up.statusCode === 200 && req.url?.endsWith("/chat/completions")) countToolServer(body);
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(Buffer.concat(out));
          });
        },
      );
      upstream.on("error", () => {
        res.writeHead(502);
        res.end();
      });
      upstream.end(body);
    });
  });
  const countToolServer = (body: Buffer) => {
    let parsed: { messages?: { role: string; content: unknown }[] };
    try {
      parsed = JSON.parse(body.toString("utf8")) as typeof parsed;
    } catch {
      return;
    }
    const messages = parsed.messages ?? [];
    if (!messages.some((m) => m.role === "system" && typeof m.content === "string" && toolServer.test(m.content))) return;
    const user = [...messages].reverse().find((m) => m.role === "user" && typeof m.content === "string");
    const c = user ? parseCaseMessage(user.content as string) : undefined;
    if (!c) return;
    const key = caseKey(c.call as { name: string; arguments: unknown }, (c.history ?? []) as ToolHistoryEntry[]);
    answered.set(key, (answered.get(key) ?? 0) + 1);
  };
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}${base.pathname}`,
    answered,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function campaign(simUrl: string): CampaignConfigInput {
  const role = (model: string) => ({ endpoint: "sim", model });
  return {
    name: "multi-turn-chaos",
    seed: 5,
    iterations: 1,
    endpoints: { sim: { baseUrl: simUrl, maxConcurrency: 8, timeoutMs: 10_000, maxRetries: 4 } },
    roles: {
      planner: role("toolloop-sim-generator"),
      user: role("toolloop-sim-generator"),
      assistant: role("toolloop-sim"),
      toolServer: role("toolloop-sim"),
    },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "synthesize.multiTurn", dialogues: 16, batchSize: 8, turns: { mean: 6, max: 10 } }],
    concurrency: { batchesInParallel: 2 },
  };
}

/** Each stored tool turn's case, in the dialogue's order (the history the engine sent with it). */
function expectedCases(turns: readonly DialogueTurn[]): { callId: string; key: string }[] {
  const calls = new Map<string, { name: string; arguments: unknown }>();
  const history: ToolHistoryEntry[] = [];
  const out: { callId: string; key: string }[] = [];
  for (const t of turns) {
    if (t.kind === "assistant")
      for (const c of t.message.tool_calls ?? []) {
        let args: unknown;
        try {
          args = JSON.parse(c.function.arguments);
        } catch {
          args = c.function.arguments;
        }
        calls.set(c.id, { name: c.function.name, arguments: args });
      }
    else if (t.kind === "tool") {
      const call = calls.get(t.message.tool_call_id) ?? { name: t.callName, arguments: null };
      out.push({ callId: t.message.tool_call_id, key: caseKey(call, history) });
      // As the engine shows it to the tool server: without our own fields (origin, simulated, resultText).
      history.push({ name: call.name, arguments: call.arguments, result: historyResult(t.result) });
    }
  }
  return out;
}

test("kill -9 mid-dialogue twice: dialogues resume at their last turn, no turn twice, each tool call executed once", { timeout: 420_000 }, async () => {
  const campaignId = `mt-kill-${Date.now().toString(36)}`;
  if (h.liveWorkers().length === 0) h.startWorker();
  const handle = await h.startCampaign(campaign(proxy.url), campaignId);
  const db = h.db.db;
  const runningDialogues = async () => (await iterationDialogues(db, campaignId, 1).catch(() => [])).filter((d) => d.status === "running").length;

  // Calls a kill interrupted: recorded as started, no result, when the worker died.
  const interrupted = new Set<string>();
  const kills: string[] = [];
  for (const threshold of [20, 90]) {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const rows = await db
        .select({ id: toolExecutions.dialogueId })
        .from(toolExecutions)
        .where(like(toolExecutions.dialogueId, `${campaignId}/%`))
        .catch(() => []);
      if (rows.length >= threshold && (await runningDialogues()) > 0) break;
      if (Date.now() > deadline) throw new Error(`no ${threshold} tool calls recorded within 120 s (have ${rows.length})`);
      await sleep(50);
    }
    const victims = h.liveWorkers();
    await Promise.all(victims.map((w) => w.kill9()));
    const running = (await iterationDialogues(db, campaignId, 1)).filter((d) => d.status === "running");
    const open = await db
      .select()
      .from(toolExecutions)
      .where(like(toolExecutions.dialogueId, `${campaignId}/%`));
    for (const r of open) if (r.status === "started") interrupted.add(`${r.dialogueId} ${r.callId}`);
    kills.push(
      `${victims.map((w) => w.pid).join("+")} with ${running.length} dialogues running, ${open.length} calls recorded (${open.filter((r) => r.status === "started").length} started, no result)`,
    );
    h.startWorker();
  }
  console.log(`[chaos] killed: ${kills.join("; ")}`);

  const result = (await handle.result()) as { state: string };
  assert.equal(result.state, "completed", "completes with no operator action");
  assert.equal(h.crashes.length, 0, `no worker exited by itself: ${JSON.stringify(h.crashes.map((c) => c.logTail.slice(-500)))}`);

  const all = await iterationDialogues(db, campaignId, 1);
  assert.equal(all.length, 16);
  let toolTurns = 0;
  let reasked = 0;
  const expectedByKey = new Map<string, number>();
  const interruptedKeys = new Set<string>();
  for (const d of all) {
    assert.notEqual(d.status, "running", `${d.id} ended`);
    const turns = await dialogueTurnsOf(db, d.id);
    assert.deepEqual(
      turns.map((t) => t.seq),
      turns.map((_, i) => i),
      `${d.id}: one contiguous run of seqs (resumed at its last turn, nothing twice)`,
    );
    // Every call answered by exactly one tool message, right after its assistant turn.
    const answers = turns.filter((t) => t.kind === "tool").map((t) => (t.message as { tool_call_id: string }).tool_call_id);
    assert.equal(new Set(answers).size, answers.length, `${d.id}: no tool call answered twice`);
    // The message order a replayed turn would break (two user or assistant messages in a row, a call left unanswered).
    const order = verifyRules({ kind: "multi_turn", messages: turns.map((t) => t.message), tools: [] }).reasons.filter((r) =>
      /follows another|never answered|does not answer|must follow/.test(r),
    );
    assert.deepEqual(order, [], `${d.id}: well-formed message order`);
    for (const c of expectedCases(turns)) {
      toolTurns++;
      expectedByKey.set(c.key, (expectedByKey.get(c.key) ?? 0) + 1);
      if (interrupted.has(`${d.id} ${c.callId}`)) interruptedKeys.add(c.key);
    }
  }
  const recorded = await db
    .select()
    .from(toolExecutions)
    .where(
      inArray(
        toolExecutions.dialogueId,
        all.map((d) => d.id),
      ),
    );
  assert.equal(recorded.length, toolTurns, "one tool_executions row per tool message");
  assert.ok(
    recorded.every((r) => r.status === "done"),
    "every recorded call has its result",
  );

  for (const [key, n] of expectedByKey) {
    const got = proxy.answered.get(key) ?? 0;
    assert.ok(got >= n, `a stored tool result the tool server never produced: ${key.slice(0, 300)}`);
    if (got > n) {
      assert.ok(interruptedKeys.has(key), `a call executed ${got} times for ${n} tool message(s), and no kill interrupted it: ${key.slice(0, 300)}`);
      assert.equal(got, n + 1, "an interrupted call is asked again once");
      reasked++;
    }
  }
  const unexpected = [...proxy.answered.keys()].filter((k) => !expectedByKey.has(k));
  assert.deepEqual(unexpected, [], "every answered tool-server request belongs to a stored tool message");
  const dialogueRows = await db
    .select({ id: dialoguesTable.id })
    .from(dialoguesTable)
    .where(like(dialoguesTable.id, `${campaignId}/%`));
  assert.equal(dialogueRows.length, 16);
  console.log(
    `[chaos] multi-turn: ${all.filter((d) => d.status === "kept").length}/16 kept, ${toolTurns} tool calls, ${interrupted.size} interrupted by the kills, ${reasked} asked again after a kill; no other call executed twice`,
  );
});
