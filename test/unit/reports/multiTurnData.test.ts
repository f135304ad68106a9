/**
 * The report's multi-turn section on PGlite: dialogues kept and dropped by reason, the user-turn
 * length histogram, assistant turn decisions, self-reflections and tool results per tool, counted
 * from the dialogues / dialogue_turns tables for the campaign and for one iteration; the charts drawn
 * from them, and each left out with its note when there is nothing to show.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { dialogues, dialogueTurns, llmRequests } from "../../../src/db/schema.js";
import type { AssistantTurnReview, DialogueOutcome, DialogueTurn } from "../../../src/dialogue/types.js";
import type { ChatMessage } from "../../../src/domain/types.js";
import { gatherReportData } from "../../../src/reports/data.js";
import { renderReportHtml, reportCharts } from "../../../src/reports/html.js";
import { rawCampaign } from "../../helpers/selfEvolution.js";
import { travelDialogue } from "../../helpers/multiTurnSamples.js";

type Assistant = Extract<ChatMessage, { role: "assistant" }>;

const outcome = (o: Partial<DialogueOutcome> & Pick<DialogueOutcome, "status">): DialogueOutcome => ({
  userTurns: 3,
  acceptedTurns: 4,
  rejectedTurns: 0,
  toolCalls: 4,
  toolErrors: 0,
  reflections: 0,
  negotiations: 0,
  finished: true,
  ...o,
});

const review = (message: Assistant, decision: AssistantTurnReview["decision"], reflection?: "revised" | "still" | "none"): AssistantTurnReview => ({
  candidates: [
    {
      message,
      valid: reflection !== "still",
      ...(reflection
        ? {
            reflection: {
              original: message,
              critique: ["argument unit: expected one of celsius, fahrenheit"],
              revision: reflection === "none" ? null : message,
              stillInvalid: reflection === "still" ? ["argument unit: expected one of celsius, fahrenheit"] : [],
            },
          }
        : {}),
    },
  ],
  votes: { groups: [1], agreeRequired: 1 },
  decision,
  chosen: 0,
});

/** The travel dialogue's messages as stored turns; the assistant turns decided as `decisions` says, in order. */
function turnsOf(decisions: [AssistantTurnReview["decision"], ("revised" | "still" | "none")?][], toolError = false): DialogueTurn[] {
  const { messages } = travelDialogue(0);
  let userTurn = 0;
  let round = 0;
  let a = 0;
  return messages.map((message, seq): DialogueTurn => {
    switch (message.role) {
      case "system":
        return { seq, kind: "system", message };
      case "user":
        userTurn++;
        round = 0;
        return { seq, kind: "user", message, user: { text: message.content, done: false } as never, userTurn };
      case "assistant": {
        const [decision, reflection] = decisions[a++] ?? ["vote"];
        return { seq, kind: "assistant", message, review: review(message, decision, reflection), userTurn, round: round++, accepted: decision !== "rejected" };
      }
      case "tool": {
        const fail = toolError && message.tool_call_id.endsWith("c3");
        return {
          seq,
          kind: "tool",
          message,
          result: fail ? { ok: false, error: { type: "rate_limited", message: "slow down" } } : { ok: true, result: JSON.parse(message.content) as unknown },
          callName: { c1: "search_flights", c2: "book_flight", c3: "get_current_weather", c4: "convert_currency" }[message.tool_call_id.slice(-2)] ?? "?",
        };
      }
    }
  });
}

test("report data: the multi-turn section's figures for the campaign and for one iteration, and its charts", async () => {
  const h = await openDatabase("pglite:memory");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-mt-"));
  try {
    await migrateDatabase(h);
    const db = h.db;
    const raw = rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] });
    await insertCampaign(db, { id: "c", name: "mt", config: raw });
    await insertCampaign(db, { id: "other", name: "other", config: raw });
    await upsertIteration(db, { campaignId: "c", iteration: 1, status: "completed" });
    await upsertIteration(db, { campaignId: "c", iteration: 2, status: "completed" });
    await upsertIteration(db, { campaignId: "other", iteration: 1, status: "completed" });
    const tools = travelDialogue(0).tools;
    const dialogue = (campaignId: string, iteration: number, slot: number, o: DialogueOutcome | null) => ({
      id: `${campaignId}/${iteration}/synthesize.multiTurn/${slot}`,
      campaignId,
      iteration,
      slot,
      status: o?.status ?? ("running" as const),
      persona: "a busy parent",
      style: "terse",
      tools,
      targetTurns: 3,
      seed: slot,
      outcome: o,
    });
    await db
      .insert(dialogues)
      .values([
        dialogue("c", 1, 0, outcome({ status: "kept" })),
        dialogue("c", 1, 1, outcome({ status: "kept", userTurns: 5 })),
        dialogue("c", 1, 2, outcome({ status: "dropped", dropReason: "too_many_rejected_turns", userTurns: 2 })),
        dialogue("c", 1, 3, null),
        dialogue("c", 2, 0, outcome({ status: "dropped", dropReason: "bad_plan", userTurns: 0 })),
        dialogue("other", 1, 0, outcome({ status: "kept" })),
      ]);
    const store = (id: string, turns: DialogueTurn[]) => turns.map((turn) => ({ dialogueId: id, seq: turn.seq, kind: turn.kind, turn }));
    await db
      .insert(dialogueTurns)
      .values([
        ...store("c/1/synthesize.multiTurn/0", turnsOf([["vote"], ["vote", "revised"], ["negotiation"], ["vote"], ["vote"]], true)),
        ...store("c/1/synthesize.multiTurn/2", turnsOf([["rejected", "still"], ["rejected", "none"], ["vote"], ["negotiation"], ["rejected"]])),
        ...store("other/1/synthesize.multiTurn/0", turnsOf([["rejected"]])),
      ]);

    const it1 = (await gatherReportData(db, { campaignId: "c", iteration: 1 })).multiTurn!;
    assert.deepEqual(it1.dialogues, [
      { status: "dropped", reason: "too_many_rejected_turns", n: 1 },
      { status: "kept", reason: "", n: 2 },
      { status: "running", reason: "", n: 1 },
    ]);
    assert.deepEqual(it1.userTurns, [
      { turns: 2, n: 1 },
      { turns: 3, n: 1 },
      { turns: 5, n: 1 },
    ]);
    assert.deepEqual(it1.decisions, [
      { decision: "negotiation", n: 2 },
      { decision: "rejected", n: 3 },
      { decision: "vote", n: 5 },
    ]);
    assert.deepEqual(it1.reflections, [
      { result: "no revision", n: 1 },
      { result: "revised", n: 1 },
      { result: "revision still invalid", n: 1 },
    ]);
    const weather = it1.toolResults.filter((r) => r.tool === "get_current_weather");
    assert.deepEqual(weather, [
      { tool: "get_current_weather", result: "ok", n: 1 },
      { tool: "get_current_weather", result: "rate_limited", n: 1 },
    ]);
    assert.equal(
      it1.toolResults.reduce((n, r) => n + r.n, 0),
      8,
      "four results in each of the two dialogues with turns",
    );

    const all = await gatherReportData(db, { campaignId: "c" });
    assert.deepEqual(
      all.multiTurn!.dialogues.find((r) => r.reason === "bad_plan"),
      { status: "dropped", reason: "bad_plan", n: 1 },
      "the campaign report counts every iteration",
    );
    assert.equal(all.multiTurn!.userTurns.find((r) => r.turns === 0)?.n, 1);

    const { charts, omitted } = reportCharts(await gatherReportData(db, { campaignId: "c", iteration: 1 }));
    const mt = charts.filter((c) => c.title.startsWith("Multi-turn"));
    assert.deepEqual(
      mt.map((c) => c.title),
      [
        "Multi-turn dialogues kept and dropped",
        "Multi-turn dialogue length",
        "Multi-turn assistant turn decisions",
        "Multi-turn self-reflection",
        "Multi-turn tool results",
      ],
    );
    assert.ok(!omitted.some((o) => o.title.startsWith("Multi-turn")));
    const length = mt[1]!.config;
    assert.deepEqual(length.data.labels, ["1", "2", "3", "4", "5"]);
    assert.deepEqual(length.data.datasets[0]!.data, [0, 1, 1, 0, 1]);
    assert.deepEqual(mt[0]!.config.data.labels, ["dropped: too_many_rejected_turns", "kept", "running"]);

    // Iteration 2: dialogues, but no turns stored: the turn charts are left out with their notes.
    const two = reportCharts(await gatherReportData(db, { campaignId: "c", iteration: 2 }));
    const twoCharts = two.charts.filter((c) => c.title.startsWith("Multi-turn"));
    assert.deepEqual(
      twoCharts.map((c) => c.title),
      ["Multi-turn dialogues kept and dropped", "Multi-turn dialogue length"],
    );
    assert.deepEqual(twoCharts[1]!.config.data.labels, ["0"], "a dialogue that ended before any user turn is counted at 0");
    assert.deepEqual(twoCharts[1]!.config.data.datasets[0]!.data, [1]);
    assert.deepEqual(
      two.omitted.filter((o) => o.title.startsWith("Multi-turn")).map((o) => o.note),
      ["no assistant turn was decided", "no assistant candidate broke a rule, so none was reflected on", "no dialogue called a tool"],
    );
    // Iteration 2 kept no dialogue: the report warns, with why they were dropped; iteration 1 (two kept, one still running) does not.
    const keptNone = "no dialogue kept, so no multi-turn sample was written: 1 dropped (bad_plan 1) of 1";
    assert.deepEqual(it1.warnings, []);
    const it2 = await gatherReportData(db, { campaignId: "c", iteration: 2 });
    assert.deepEqual(it2.multiTurn!.warnings, [{ iteration: 2, warning: keptNone }]);
    assert.deepEqual(all.multiTurn!.warnings, [{ iteration: 2, warning: keptNone }], "the campaign report names the iteration");
    const html = renderReportHtml(all, { chartJs: "" });
    assert.match(
      html,
      /<div class="banner" id="multi-turn-warning">WARNING: a multi-turn synthesis kept no dialogue\.<ul><li>iteration 2, synthesize\.multiTurn: no dialogue kept, so no multi-turn sample was written: 1 dropped \(bad_plan 1\) of 1<\/li><\/ul><\/div>/,
    );
    assert.match(html, /<tr><th>warning \(iteration 2\)<\/th><td>synthesize\.multiTurn: no dialogue kept/);
    assert.doesNotMatch(renderReportHtml(await gatherReportData(db, { campaignId: "c", iteration: 1 }), { chartJs: "" }), /multi-turn-warning/);
    // A campaign without dialogues lists the section as not shown, one note per chart.
    await insertCampaign(db, { id: "single", name: "single", config: raw });
    await upsertIteration(db, { campaignId: "single", iteration: 1, status: "completed" });
    const single = reportCharts(await gatherReportData(db, { campaignId: "single", iteration: 1 }));
    assert.equal(single.charts.filter((c) => c.title.startsWith("Multi-turn")).length, 0);
    const notes = single.omitted.filter((o) => o.title.startsWith("Multi-turn"));
    assert.equal(notes.length, 5);
    assert.ok(notes.every((o) => o.note === "no multi-turn dialogue ran (no synthesize.multiTurn)"));
  } finally {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("report data: a kept dialogue that ended before the user said done is shown apart, with why (recorded, or read from an older row's detail)", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const db = h.db;
    const raw = rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] });
    await insertCampaign(db, { id: "c", name: "mt", config: raw });
    await upsertIteration(db, { campaignId: "c", iteration: 1, status: "completed" });
    const tools = travelDialogue(0).tools;
    const noValid = "user turn 5, round 0: none of the 3 candidates is valid; the dialogue ends before that turn, which no later turn may build on";
    const outcomes: DialogueOutcome[] = [
      outcome({ status: "kept" }),
      outcome({ status: "kept" }),
      outcome({ status: "kept", finished: false, unfinished: "no_valid_candidate", detail: noValid }),
      // Stored before outcomes recorded the cause: read from the detail the engine wrote.
      outcome({ status: "kept", finished: false, detail: noValid }),
      outcome({ status: "kept", finished: false, detail: "user turn 2: the assistant still called tools after maxToolRounds (4) rounds" }),
      outcome({
        status: "dropped",
        dropReason: "unfinished",
        finished: false,
        unfinished: "turns_max",
        detail: "reached turns.max (3 user turns) before the user said done",
      }),
      outcome({ status: "dropped", dropReason: "bad_plan", finished: false, userTurns: 0 }),
    ];
    await db.insert(dialogues).values(
      outcomes.map((o, slot) => ({
        id: `c/1/synthesize.multiTurn/${slot}`,
        campaignId: "c",
        iteration: 1,
        slot,
        status: o.status,
        persona: "p",
        style: "s",
        tools,
        targetTurns: 3,
        seed: slot,
        outcome: o,
      })),
    );
    const data = await gatherReportData(db, { campaignId: "c", iteration: 1 });
    assert.deepEqual(data.multiTurn!.dialogues, [
      { status: "dropped", reason: "bad_plan", n: 1 },
      { status: "dropped", reason: "unfinished (turns_max)", n: 1 },
      { status: "kept", reason: "", n: 2 },
      { status: "kept", reason: "unfinished (max_tool_rounds)", n: 1 },
      { status: "kept", reason: "unfinished (no_valid_candidate)", n: 2 },
    ]);
    const chart = reportCharts(data).charts.find((c) => c.title === "Multi-turn dialogues kept and dropped")!;
    assert.deepEqual(chart.config.data.labels, [
      "dropped: bad_plan",
      "dropped: unfinished (turns_max)",
      "kept",
      "kept: unfinished (max_tool_rounds)",
      "kept: unfinished (no_valid_candidate)",
    ]);
    const html = renderReportHtml(data, { chartJs: "" });
    assert.match(html, /<tr><th>multi-turn dialogues<\/th><td>2 dropped, 5 kept \(3 unfinished\)<\/td><\/tr>/);
    // The no-dialogue-kept warning still counts a kept unfinished dialogue as kept.
    assert.deepEqual(data.multiTurn!.warnings, []);
  } finally {
    await h.close();
  }
});

test("report: requests that failed or were cut off are not read as answered by another server beside the simulator's", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const db = h.db;
    const raw = rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] });
    await insertCampaign(db, { id: "c", name: "mt", config: raw });
    await upsertIteration(db, { campaignId: "c", iteration: 1, status: "completed" });
    const request = (id: string, status: "ok" | "failed" | "sent", simulated: boolean) => ({
      id,
      campaignId: "c",
      iteration: 1,
      stage: "synthesize.multiTurn",
      role: "assistant",
      model: "m",
      status,
      simulated,
    });
    await db.insert(llmRequests).values([
      ...Array.from({ length: 6 }, (_, i) => request(`ok${i}`, "ok", true)),
      request("sim-500", "failed", true),
      // No answer: a connection refused, a timeout, and one in flight when the worker was killed.
      request("refused", "failed", false),
      request("timeout", "failed", false),
      request("inflight", "sent", false),
    ]);
    const all = await gatherReportData(db, { campaignId: "c" });
    assert.deepEqual(all.simulated.llm, { simulated: 7, total: 10, otherAnswers: 0 });
    const html = renderReportHtml(all, { chartJs: "" });
    assert.match(
      html,
      /SIMULATED: 7 of 10 LLM requests were answered by the toolloop LLM simulator \(scripted, not a model\); none of the other 3 was answered by another server: they failed or were cut off with no answer/,
    );
    assert.match(
      html,
      /<tr><th>LLM simulator<\/th><td>7 of 10 requests \(the other 3 failed or were cut off with no answer; none was answered by another server\)<\/td><\/tr>/,
    );
    // The requests chart: the one in flight when the worker was killed is neither a success nor a failure.
    const requests = reportCharts(all).charts.find((c) => c.title === "Requests per role")!.config;
    assert.deepEqual(
      requests.data.datasets.map((ds) => [ds.label, ds.data]),
      [
        ["requests", [10]],
        ["failures", [3]],
        ["no outcome (in flight when a worker stopped)", [1]],
      ],
    );
    // One answered by a real server is named as such.
    await db.insert(llmRequests).values(request("real", "ok", false));
    const mixed = renderReportHtml(await gatherReportData(db, { campaignId: "c" }), { chartJs: "" });
    assert.match(
      mixed,
      /7 of 11 LLM requests were answered by the toolloop LLM simulator \(scripted, not a model\); of the other 4, 1 was answered by another server and 3 failed or were cut off with no answer/,
    );
  } finally {
    await h.close();
  }
});

test("tool results: errors fault injection asked for apart from the tool server's own, SIMULATED where the toolloop simulator played the server, older results without an origin", async (t) => {
  const h = await openDatabase("pglite:memory");
  t.after(() => h.close());
  await migrateDatabase(h);
  const db = h.db;
  await insertCampaign(db, { id: "c", name: "mt", config: rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }) });
  await upsertIteration(db, { campaignId: "c", iteration: 1, status: "completed" });
  const id = "c/1/synthesize.multiTurn/0";
  await db.insert(dialogues).values({
    id,
    campaignId: "c",
    iteration: 1,
    slot: 0,
    status: "kept",
    persona: "p",
    style: "s",
    tools: travelDialogue(0).tools,
    targetTurns: 3,
    seed: 0,
    outcome: outcome({ status: "kept" }),
  });
  const failed = (type: "timeout" | "invalid_call", extra: Record<string, unknown>) => ({ ok: false as const, error: { type, message: type }, ...extra });
  const results = [
    failed("timeout", { origin: "injected" }),
    failed("timeout", { origin: "injected", simulated: true }),
    failed("timeout", { origin: "tool_server", simulated: true }),
    failed("invalid_call", { origin: "tool_server" }),
    failed("invalid_call", {}),
    { ok: true as const, result: {}, origin: "tool_server", simulated: true },
    { ok: true as const, result: {} },
  ];
  await db.insert(dialogueTurns).values(
    results.map((result, seq) => ({
      dialogueId: id,
      seq,
      kind: "tool",
      turn: { seq, kind: "tool", message: { role: "tool", tool_call_id: `c${seq}`, content: "{}" }, result, callName: "get_current_weather" } as never,
    })),
  );

  const data = await gatherReportData(db, { campaignId: "c" });
  assert.deepEqual(data.multiTurn!.toolResults, [
    { tool: "get_current_weather", result: "invalid_call", n: 1 },
    { tool: "get_current_weather", result: "invalid_call", n: 1, origin: "tool_server" },
    { tool: "get_current_weather", result: "ok", n: 1 },
    { tool: "get_current_weather", result: "ok", n: 1, origin: "tool_server", simulated: true },
    { tool: "get_current_weather", result: "timeout", n: 1, origin: "injected" },
    { tool: "get_current_weather", result: "timeout", n: 1, origin: "injected", simulated: true },
    { tool: "get_current_weather", result: "timeout", n: 1, origin: "tool_server", simulated: true },
  ]);
  const chart = reportCharts(data).charts.find((c) => c.title === "Multi-turn tool results")!;
  assert.deepEqual(
    chart.config.data.datasets.map((d) => [d.label, d.data]),
    [
      ["invalid_call: origin not recorded", [1]],
      ["invalid_call: tool server", [1]],
      ["ok", [1]],
      ["ok (SIMULATED)", [1]],
      ["timeout: injected", [1]],
      ["timeout: injected (SIMULATED)", [1]],
      ["timeout: tool server (SIMULATED)", [1]],
    ],
  );
  const colors = new Map(chart.config.data.datasets.map((d) => [d.label, d.backgroundColor]));
  assert.notEqual(colors.get("timeout: injected"), colors.get("timeout: tool server (SIMULATED)"), "an injected error is not coloured as the server's own");
  assert.match(chart.caption, /5 of 7 results are errors, 2 of them injected\./);
  assert.match(chart.caption, /1 error was stored before their origin was recorded/);
  assert.match(chart.caption, /SIMULATED: the toolloop LLM simulator played the tool server for 3 results/);

  // Report data gathered before origins were recorded (no origin, no simulated) still renders, each error as of unknown origin.
  const old = { ...data, multiTurn: { ...data.multiTurn!, toolResults: [{ tool: "get_current_weather", result: "timeout", n: 2 }] } };
  const oldChart = reportCharts(old).charts.find((c) => c.title === "Multi-turn tool results")!;
  assert.deepEqual(
    oldChart.config.data.datasets.map((d) => d.label),
    ["timeout: origin not recorded"],
  );
  assert.ok(renderReportHtml(old, { chartJs: "" }).includes("timeout: origin not recorded"));
});

test("tool results: the simulator's random faults apart from its rules' errors, each still SIMULATED; a real server's errors unaffected", async (t) => {
  // Both read "tool server (SIMULATED)": a call the tool's rules refused looked like the simulator's random trouble.
  const h = await openDatabase("pglite:memory");
  t.after(() => h.close());
  await migrateDatabase(h);
  const db = h.db;
  await insertCampaign(db, { id: "c", name: "mt", config: rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }) });
  await upsertIteration(db, { campaignId: "c", iteration: 1, status: "completed" });
  const id = "c/1/synthesize.multiTurn/0";
  await db.insert(dialogues).values({
    id,
    campaignId: "c",
    iteration: 1,
    slot: 0,
    status: "kept",
    persona: "p",
    style: "s",
    tools: travelDialogue(0).tools,
    targetTurns: 3,
    seed: 0,
    outcome: outcome({ status: "kept" }),
  });
  const failed = (type: "timeout" | "invalid_call" | "not_found", extra: Record<string, unknown>) => ({
    ok: false as const,
    error: { type, message: type },
    ...extra,
  });
  const results = [
    failed("invalid_call", { origin: "tool_server", simulated: true, simulatedCause: "rules" }),
    failed("not_found", { origin: "tool_server", simulated: true, simulatedCause: "rules" }),
    failed("timeout", { origin: "tool_server", simulated: true, simulatedCause: "fault" }),
    failed("timeout", { origin: "tool_server", simulated: true, simulatedCause: "fault" }),
    failed("timeout", { origin: "injected", simulated: true }),
    // Stored before the simulator said which kind.
    failed("timeout", { origin: "tool_server", simulated: true }),
    // A real server's own error: a field it could not have set through the engine is not read without the simulator.
    failed("timeout", { origin: "tool_server", simulatedCause: "fault" }),
  ];
  await db.insert(dialogueTurns).values(
    results.map((result, seq) => ({
      dialogueId: id,
      seq,
      kind: "tool",
      turn: { seq, kind: "tool", message: { role: "tool", tool_call_id: `c${seq}`, content: "{}" }, result, callName: "get_current_weather" } as never,
    })),
  );

  const data = await gatherReportData(db, { campaignId: "c" });
  const chart = reportCharts(data).charts.find((c) => c.title === "Multi-turn tool results")!;
  assert.deepEqual(
    chart.config.data.datasets.map((d) => [d.label, d.data]),
    [
      ["invalid_call: tool server rules (SIMULATED)", [1]],
      ["not_found: tool server rules (SIMULATED)", [1]],
      ["timeout: injected (SIMULATED)", [1]],
      ["timeout: tool server", [1]],
      ["timeout: tool server (SIMULATED)", [1]],
      ["timeout: tool server random fault (SIMULATED)", [2]],
    ],
  );
  const colors = new Map(chart.config.data.datasets.map((d) => [d.label, d.backgroundColor]));
  assert.equal(new Set(colors.values()).size, colors.size, "every series has its own colour");
  assert.match(chart.caption, /"tool server rules" \(2\): the call broke its tool's rules/);
  assert.match(chart.caption, /"tool server random fault" \(2\): its own random trouble at --dialogue-tool-server-error-rate/);
  assert.match(chart.caption, /1 "tool server \(SIMULATED\)" error was stored before the simulator said which kind/);
  const html = renderReportHtml(data, { chartJs: "" });
  assert.ok(html.includes("timeout: tool server random fault (SIMULATED)") && html.includes("invalid_call: tool server rules (SIMULATED)"));
});
