/**
 * Integers a double cannot hold (order ids past 2^53) in labels and outputs, checked by our `bfcl`
 * mode, by bfclFast's probe path (runFastProbe: OpenAI tool calls, arguments as JSON text) and by
 * the official bfcl_eval checker (Python: exact ints, `int == float` compared exactly, float(int)
 * rounded to the nearest double, OverflowError past the largest). The entries live in a BFCL data
 * directory written here, read by both sides from the same files; each output is JSON text that
 * reaches Python's json.loads and our parser with the digits as written. The expected verdicts are
 * the official checker's (it runs here when the BFCL venv is present, and must still say so).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { readBfclCategorySync } from "../../src/bfcl/data.js";
import { checkEntry } from "../../src/bfcl/check.js";
import { runFastProbe, type ProbeChatClient } from "../../src/bfcl/fastProbe.js";
import { sanitizeToolName } from "../../src/bfcl/toolSchema.js";
import { CHECKER_CRASH } from "../../src/matching/matcher.js";
import { parseBfclOutputLine, parsePyJson } from "../../src/matching/pyJson.js";
import type { FunctionDoc } from "../../src/matching/types.js";
import { officialCheckerUnavailable, runOfficialCheckerOnLines } from "./officialChecker.js";

const LOOKUP: FunctionDoc = {
  name: "lookup_order",
  description: "Looks up an order.",
  parameters: {
    type: "dict",
    properties: {
      order_id: { type: "integer", description: "The order's id." },
      amount: { type: "float", description: "The amount." },
      ids: { type: "array", items: { type: "integer" }, description: "Related ids." },
    },
    required: ["order_id"],
  },
};
const FIND_JAVA: FunctionDoc = {
  name: "findOrder",
  description: "Finds an order.",
  parameters: { type: "dict", properties: { id: { type: "long", description: "The order's id." } }, required: ["id"] },
};
const FIND_JS: FunctionDoc = {
  name: "findOrder",
  description: "Finds an order.",
  parameters: { type: "dict", properties: { id: { type: "Bigint", description: "The order's id." } }, required: ["id"] },
};

const BIG = "12345678901234567890";
/** 10**400: past the largest double (float() of it raises OverflowError). */
const HUGE = "1" + "0".repeat(400);

interface Case {
  id: string;
  category: "simple" | "java" | "javascript";
  doc: FunctionDoc;
  /** The possible answer's parameters, as BFCL writes them (JSON text). */
  answer: string;
  /** The model's arguments (JSON text). */
  output: string;
  /** What the official checker says: valid, or invalid with its error type, or a crash. */
  official: "valid" | "crash" | { invalid: string };
}

const CASES: Case[] = [
  { id: "simple_big_equal", category: "simple", doc: LOOKUP, answer: `{"order_id": [${BIG}]}`, output: `{"order_id": ${BIG}}`, official: "valid" },
  {
    id: "simple_big_off_by_one",
    category: "simple",
    doc: LOOKUP,
    answer: `{"order_id": [${BIG}]}`,
    output: '{"order_id": 12345678901234567891}',
    official: { invalid: "value_error:others" },
  },
  {
    // The same double as the label (12345678901234567168), a different int.
    id: "simple_big_same_double",
    category: "simple",
    doc: LOOKUP,
    answer: `{"order_id": [${BIG}]}`,
    output: '{"order_id": 12345678901234567000}',
    official: { invalid: "value_error:others" },
  },
  {
    id: "simple_big_negative",
    category: "simple",
    doc: LOOKUP,
    answer: '{"order_id": [-98765432109876543210]}',
    output: '{"order_id": -98765432109876543210}',
    official: "valid",
  },
  {
    id: "simple_big_negative_off",
    category: "simple",
    doc: LOOKUP,
    answer: '{"order_id": [-98765432109876543210]}',
    output: '{"order_id": -98765432109876543211}',
    official: { invalid: "value_error:others" },
  },
  {
    id: "simple_past_2_53",
    category: "simple",
    doc: LOOKUP,
    answer: '{"order_id": [9007199254740993]}',
    output: '{"order_id": 9007199254740992}',
    official: { invalid: "value_error:others" },
  },
  {
    id: "simple_big_as_float",
    category: "simple",
    doc: LOOKUP,
    answer: `{"order_id": [${BIG}]}`,
    output: `{"order_id": ${BIG}.0}`,
    official: { invalid: "type_error:simple" },
  },
  {
    // float(9007199254740993) is 9007199254740992.0: equal to the label's float.
    id: "simple_float_param_int_rounds_equal",
    category: "simple",
    doc: LOOKUP,
    answer: '{"order_id": [1], "amount": [9007199254740992.0]}',
    output: '{"order_id": 1, "amount": 9007199254740993}',
    official: "valid",
  },
  {
    // float(9007199254740995) is 9007199254740996.0.
    id: "simple_float_param_int_rounds_away",
    category: "simple",
    doc: LOOKUP,
    answer: '{"order_id": [1], "amount": [9007199254740992.0]}',
    output: '{"order_id": 1, "amount": 9007199254740995}',
    official: { invalid: "value_error:others" },
  },
  {
    // An int label for a float parameter: float(output) is compared exactly with the int.
    id: "simple_float_param_big_int_label_differs",
    category: "simple",
    doc: LOOKUP,
    answer: `{"order_id": [1], "amount": [${BIG}]}`,
    output: '{"order_id": 1, "amount": 12345678901234567891}',
    official: { invalid: "value_error:others" },
  },
  {
    // float(BIG) is 12345678901234567168.0, which is exactly the label's int.
    id: "simple_float_param_big_int_label_exact",
    category: "simple",
    doc: LOOKUP,
    answer: '{"order_id": [1], "amount": [12345678901234567168]}',
    output: `{"order_id": 1, "amount": ${BIG}}`,
    official: "valid",
  },
  {
    id: "simple_float_param_overflow",
    category: "simple",
    doc: LOOKUP,
    answer: '{"order_id": [1], "amount": [1.5]}',
    output: `{"order_id": 1, "amount": ${HUGE}}`,
    official: "crash",
  },
  {
    id: "simple_big_list_equal",
    category: "simple",
    doc: LOOKUP,
    answer: `{"order_id": [1], "ids": [[${BIG}, 2]]}`,
    output: `{"order_id": 1, "ids": [${BIG}, 2]}`,
    official: "valid",
  },
  {
    id: "simple_big_list_off",
    category: "simple",
    doc: LOOKUP,
    answer: `{"order_id": [1], "ids": [[${BIG}, 2]]}`,
    output: '{"order_id": 1, "ids": [12345678901234567891, 2]}',
    official: { invalid: "value_error:list/tuple" },
  },
  {
    id: "simple_small_label_big_output",
    category: "simple",
    doc: LOOKUP,
    answer: '{"order_id": [5]}',
    output: `{"order_id": ${BIG}}`,
    official: { invalid: "value_error:others" },
  },
  {
    id: "java_long_equal",
    category: "java",
    doc: FIND_JAVA,
    answer: '{"id": [9223372036854775807]}',
    output: '{"id": "9223372036854775807L"}',
    official: "valid",
  },
  {
    id: "java_long_off_by_one",
    category: "java",
    doc: FIND_JAVA,
    answer: '{"id": [9223372036854775807]}',
    output: '{"id": "9223372036854775806L"}',
    official: { invalid: "value_error:others" },
  },
  { id: "javascript_bigint_equal", category: "javascript", doc: FIND_JS, answer: `{"id": [${BIG}]}`, output: `{"id": "${BIG}n"}`, official: "valid" },
  {
    id: "javascript_bigint_off_by_one",
    category: "javascript",
    doc: FIND_JS,
    answer: `{"id": [${BIG}]}`,
    output: '{"id": "12345678901234567891n"}',
    official: { invalid: "value_error:others" },
  },
];
const CATEGORIES = ["simple", "java", "javascript"] as const;

const question = (c: Case) => [[{ role: "user", content: `Case ${c.id}.` }]];
/** One line of an outputs file, as `toolloop bfcl check` and official_check.py read it. */
const outputLine = (c: Case) => `{"id": "${c.id}", "category": "${c.category}", "result": [{"${c.doc.name}": ${c.output}}]}`;
const verdictOf = (v: { valid: boolean; errorType?: string }) => (v.valid ? "valid" : v.errorType === CHECKER_CRASH ? "crash" : { invalid: v.errorType ?? "" });

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "bfcl-bigints-"));
  await mkdir(path.join(dir, "data"));
  await mkdir(path.join(dir, "possible_answer"));
  for (const category of CATEGORIES) {
    const cases = CASES.filter((c) => c.category === category);
    const data = cases.map((c) => JSON.stringify({ id: c.id, question: question(c), function: [c.doc] }));
    // Written as text: the answers' digits reach both parsers as they are here.
    const answers = cases.map((c) => `{"id": "${c.id}", "ground_truth": [{"${c.doc.name}": ${c.answer}}]}`);
    await writeFile(path.join(dir, "data", `BFCL_v3_${category}.json`), data.join("\n") + "\n");
    await writeFile(path.join(dir, "possible_answer", `BFCL_v3_${category}.json`), answers.join("\n") + "\n");
  }
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entryOf(c: Case) {
  const entry = readBfclCategorySync(c.category, dir).find((e) => e.id === c.id);
  assert.ok(entry?.answer, c.id);
  return entry;
}

test("bfcl mode compares integers past 2^53 exactly, as the official checker does", () => {
  for (const c of CASES) {
    const line = parseBfclOutputLine(outputLine(c)) as { result: unknown };
    assert.deepEqual(verdictOf(checkEntry(entryOf(c), line.result, "bfcl")), c.official, c.id);
    // The same output decoded the general way (parsePyJson, as bfcl check's other readers do).
    const plain = parsePyJson(`[{"${c.doc.name}": ${c.output}}]`);
    assert.deepEqual(verdictOf(checkEntry(entryOf(c), plain, "bfcl")), c.official, `${c.id} (parsePyJson)`);
  }
});

test("the official checker gives the verdicts expected here", { skip: officialCheckerUnavailable() ?? false }, () => {
  const run = runOfficialCheckerOnLines(CASES.map(outputLine), { dataDir: dir });
  const got = run.verdicts.map((v) => (v.verdict === "invalid" ? { invalid: v.detail } : v.verdict));
  assert.deepEqual(
    got,
    CASES.map((c) => c.official),
  );
  assert.ok(
    run.verdicts.some((v) => v.verdict === "crash" && v.detail === "OverflowError"),
    JSON.stringify(run.verdicts),
  );
});

test("bfclFast's probe (OpenAI tool calls) scores the same outputs as the official checker", async () => {
  const byQuestion = new Map(CASES.map((c) => [JSON.stringify(question(c).flat()), c]));
  const client: ProbeChatClient = {
    chat(req) {
      const c = byQuestion.get(JSON.stringify(req.messages));
      assert.ok(c, "probe sent an unknown question");
      return Promise.resolve({ message: { content: null, tool_calls: [{ function: { name: sanitizeToolName(c.doc.name), arguments: c.output } }] } });
    },
  };
  const r = await runFastProbe({ client, categories: [...CATEGORIES], dataDir: dir, concurrency: 2 });
  for (const category of CATEGORIES) {
    const cases = CASES.filter((c) => c.category === category);
    assert.deepEqual(
      { correct: r.categories[category]!.correct, total: r.categories[category]!.total },
      { correct: cases.filter((c) => c.official === "valid").length, total: cases.length },
      category,
    );
  }
});
