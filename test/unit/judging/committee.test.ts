/**
 * The judge committee: its config (a consensus that is reachable and never by two verdicts),
 * tallying, judge reliability, and convene against a SCRIPTED judge server (test/helpers/scriptedJudge.ts:
 * planted answers, not a model) to check seeds, skipped votes and unreadable answers.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { committeeRoles, committeeSchema, committeeSize, convene, judgeReliability, SINGLE_JUDGE, tally, type Vote } from "../../../src/judging/committee.js";
import { JUDGEMENT_RESPONSE_FORMAT, judgementAnswerSchema, labelJudgementMessages, type JudgeVerdict } from "../../../src/judging/protocol.js";
import { LlmClient } from "../../../src/llm/client.js";
import { startScriptedJudge, type ScriptedJudge } from "../../helpers/scriptedJudge.js";

const issues = (v: unknown) => {
  const r = committeeSchema.safeParse(v);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

test("committee config: m <= n and m > n/2, members' samples summed; a role listed once", () => {
  assert.deepEqual(issues(SINGLE_JUDGE), []);
  assert.deepEqual(committeeSchema.parse({ members: [{ role: "judge" }], consensus: 1 }), SINGLE_JUDGE, "samples defaults to 1");
  assert.deepEqual(issues({ members: [{ role: "judge", samples: 3 }], consensus: 2 }), []);
  assert.deepEqual(issues({ members: [{ role: "judge", samples: 2 }, { role: "judge2" }], consensus: 3 }), []);
  // LoopTool's default: one judge, consensus two.
  const [unreachable] = issues({ members: [{ role: "judge" }], consensus: 2 });
  assert.match(unreachable!, /^consensus: consensus 2 can never be reached: the committee casts 1 vote\(s\) in all/);
  const [split] = issues({ members: [{ role: "judge", samples: 4 }], consensus: 2 });
  assert.match(split!, /^consensus: consensus 2 of 4 votes lets two verdicts both reach it; use more than half \(at least 3\)/);
  const [dup] = issues({ members: [{ role: "judge" }, { role: "judge", samples: 2 }], consensus: 2 });
  assert.match(dup!, /^members\.1\.role: judge role "judge" is already members\[0\]/);
  assert.match(issues({ members: [], consensus: 1 })[0]!, /^members: expected at least one judge/);
  assert.match(issues({ members: [{ role: "1x" }], consensus: 1 })[0]!, /^members\.0\.role: expected a role name/);
  assert.match(issues({ members: [{ role: "judge", samples: 0 }], consensus: 1 })[0]!, /^members\.0\.samples: expected a positive integer/);
  assert.match(issues({ members: [{ role: "judge" }], consensus: 1, extra: 1 })[0]!, /extra/);
  assert.equal(
    committeeSize({
      members: [
        { role: "a", samples: 2 },
        { role: "b", samples: 3 },
      ],
      consensus: 3,
    }),
    5,
  );
  assert.deepEqual(
    committeeRoles({
      members: [
        { role: "a", samples: 2 },
        { role: "b", samples: 3 },
      ],
      consensus: 3,
    }),
    ["a", "b"],
  );
});

const vote = (judge: string, verdict: JudgeVerdict | null): Vote<JudgeVerdict> => ({ judge, model: "m", verdict, analysis: "" });

test("tally: the verdict with at least m votes; unreadable votes count for nothing", () => {
  const votes = [vote("j#0", "LABEL_WRONG"), vote("j#1", "LABEL_WRONG"), vote("j#2", "PRED_WRONG")];
  assert.deepEqual(tally(votes, 2), { verdict: "LABEL_WRONG", counts: { LABEL_WRONG: 2, PRED_WRONG: 1 } });
  assert.deepEqual(tally(votes, 3).verdict, null);
  assert.deepEqual(tally([vote("j#0", null), vote("j#1", "BOTH_WRONG"), vote("j#2", null)], 2), { verdict: null, counts: { BOTH_WRONG: 1 } });
  assert.deepEqual(tally([], 1), { verdict: null, counts: {} });
});

test("the committee rule (n/2 < m <= n) makes a verdict unique, not certain: a valid committee's split votes reach none, and the docs say so", () => {
  const committee = { members: [{ role: "judge", samples: 3 }], consensus: 2 };
  assert.ok(committeeSchema.safeParse(committee).success, "2 of 3 is a valid committee");
  const split = [vote("judge#0", "LABEL_WRONG"), vote("judge#1", "PRED_WRONG"), vote("judge#2", "BOTH_WRONG")];
  assert.equal(tally(split, committee.consensus).verdict, null, "three different answers: no consensus");
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
  for (const doc of ["README.md", "docs/stages/verify.judges.md", "docs/stages/repair.labels.md"]) {
    const text = fs.readFileSync(path.join(root, doc), "utf8");
    assert.doesNotMatch(text, /verdict can always be reached/, `${doc} does not promise a verdict`);
  }
  assert.match(fs.readFileSync(path.join(root, "README.md"), "utf8"), /at most one verdict can reach m, never two; votes that split/);
});

test("judge reliability: agreement with the committee over decided cases only", () => {
  const r = judgeReliability([
    { verdict: "LABEL_WRONG", votes: [vote("a#0", "LABEL_WRONG"), vote("b#0", "PRED_WRONG"), vote("c#0", "LABEL_WRONG")] },
    { verdict: "PRED_WRONG", votes: [vote("a#0", "PRED_WRONG"), vote("b#0", "PRED_WRONG"), vote("c#0", null)] },
    { verdict: null, votes: [vote("a#0", "BOTH_WRONG"), vote("b#0", "PRED_WRONG"), vote("c#0", "LABEL_WRONG")] },
  ]);
  assert.deepEqual(r, {
    "a#0": { decided: 2, agreed: 2, rate: 1 },
    "b#0": { decided: 2, agreed: 1, rate: 0.5 },
    "c#0": { decided: 2, agreed: 1, rate: 0.5 },
  });
});

let judge: ScriptedJudge;
before(async () => {
  // Scripted: seed 0 says LABEL_WRONG, seed 1 PRED_WRONG, seed 2 an unreadable reply; model "other" says BOTH_WRONG.
  judge = await startScriptedJudge((r) => {
    if (r.model === "other") return { verdict: "BOTH_WRONG", analysis: "other model" };
    if (r.seed === 2) return { raw: "I think the label is wrong." };
    return { verdict: r.seed === 0 ? "LABEL_WRONG" : "PRED_WRONG", analysis: `seed ${r.seed}` };
  });
});
after(async () => judge.close());

const client = (role: string, model: string) =>
  new LlmClient({ baseUrl: judge.url, model, role, timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4, backoff: { baseMs: 1, maxMs: 2 } });

const ask = {
  messages: labelJudgementMessages({
    prompt: [{ role: "user", content: "Weather in Oslo" }],
    tools: [],
    label: { content: null, tool_calls: [{ name: "get_weather", arguments: { city: "Bergen" } }] },
    prediction: { content: null, tool_calls: [{ name: "get_weather", arguments: { city: "Oslo" } }] },
  }),
  responseFormat: JUDGEMENT_RESPONSE_FORMAT,
  schema: judgementAnswerSchema,
};

test("convene: one request per sample with its own seed, per member; an unreadable answer is a null vote", async () => {
  const committee = committeeSchema.parse({ members: [{ role: "judge", samples: 3 }, { role: "second" }], consensus: 3 });
  const clients = { judge: client("judge", "judge-model"), second: client("second", "other") };
  const start = judge.requests.length;
  const votes = await convene(committee, (r) => clients[r as keyof typeof clients], ask, new AbortController().signal);
  const sorted = [...votes].sort((a, b) => a.judge.localeCompare(b.judge));
  assert.deepEqual(
    sorted.map((v) => [v.judge, v.model, v.verdict]),
    [
      ["judge#0", "judge-model", "LABEL_WRONG"],
      ["judge#1", "judge-model", "PRED_WRONG"],
      ["judge#2", "judge-model", null],
      ["second#0", "other", "BOTH_WRONG"],
    ],
  );
  assert.match(sorted[2]!.analysis, /no valid "label_judgement" reply after 2 attempts/);
  const asked = judge.requests.slice(start);
  // judge#2 is asked twice (one repair turn), the others once.
  assert.equal(asked.length, 5);
  assert.deepEqual([...new Set(asked.filter((r) => r.model === "judge-model").map((r) => r.seed))].sort(), [0, 1, 2]);
  assert.ok(
    asked.every((r) => (r.body.response_format as { type: string }).type === "json_schema"),
    "json_schema response format",
  );
  assert.equal(tally(votes, committee.consensus).verdict, null, "no verdict has three votes");
});

test("convene skips judges whose vote is already stored", async () => {
  const committee = committeeSchema.parse({ members: [{ role: "judge", samples: 2 }], consensus: 2 });
  const start = judge.requests.length;
  const votes = await convene(committee, () => client("judge", "judge-model"), ask, new AbortController().signal, new Set(["judge#0"]));
  assert.deepEqual(
    votes.map((v) => v.judge),
    ["judge#1"],
  );
  assert.deepEqual(
    judge.requests.slice(start).map((r) => r.seed),
    [1],
  );
  const none = await convene(committee, () => client("judge", "judge-model"), ask, new AbortController().signal, new Set(["judge#0", "judge#1"]));
  assert.deepEqual(none, []);
});
