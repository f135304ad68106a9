import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { tableFromIPC } from "apache-arrow";
import { readParquet } from "parquet-wasm";
import type { ChatMessage, McpTool } from "../../../src/domain/types.js";
import { verlDatasetPaths, writeVerlDataset, type VerlManifest } from "../../../src/training/verl/dataset.js";
import { QWEN25_DEFAULT_SYSTEM, hermesToolsBlock, prepareSample, type VerlSourceSample } from "../../../src/training/verl/rows.js";
import { SPLIT_SALT, splitByKey, splitFraction, type SplitResult } from "../../../src/training/verl/split.js";

const weather: McpTool = {
  name: "get_weather",
  description: "Weather now.",
  inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

const call = (id: string, name: string, args: unknown) => ({
  id,
  type: "function" as const,
  function: { name, arguments: typeof args === "string" ? args : JSON.stringify(args) },
});

function sample(i: number): VerlSourceSample {
  const kind = i % 3;
  const label: ChatMessage =
    kind === 0
      ? { role: "assistant", content: "I cannot look that up with these tools." }
      : kind === 1
        ? { role: "assistant", content: null, tool_calls: [call(`c${i}`, "get_weather", { city: `city ${i}` })] }
        : {
            role: "assistant",
            content: "Both:",
            tool_calls: [call(`a${i}`, "get_weather", { city: "Paris" }), call(`b${i}`, "get_weather", { city: "Oslo" })],
          };
  return {
    id: `s_${String(i).padStart(4, "0")}`,
    messages: [{ role: "system", content: "You call tools." }, { role: "user", content: `Weather ${i} — ünïcode ✓?` }, label],
    tools: [weather],
  };
}

function readRows(file: Uint8Array): Record<string, unknown>[] {
  const wasmTable = readParquet(file);
  const table = tableFromIPC(wasmTable.intoIPCStream());
  return table
    .toArray()
    .map((r) => JSON.parse(JSON.stringify(r.toJSON(), (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))) as Record<string, unknown>);
}

let root: string;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "verl-dataset-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test("prepareSample: the last assistant turn is the label; its calls become the ground truth, in order, arguments as objects", () => {
  const parallel = prepareSample(sample(2), "none");
  assert.ok(parallel.ok);
  assert.deepEqual(JSON.parse(parallel.sample.groundTruth), {
    calls: [
      { name: "get_weather", arguments: { city: "Paris" } },
      { name: "get_weather", arguments: { city: "Oslo" } },
    ],
  });
  assert.deepEqual(parallel.sample.prompt, [
    { role: "system", content: "You call tools." },
    { role: "user", content: "Weather 2 — ünïcode ✓?" },
  ]);
  assert.deepEqual(JSON.parse(parallel.sample.tools), [
    { type: "function", function: { name: "get_weather", description: "Weather now.", parameters: weather.inputSchema } },
  ]);
  const irrelevance = prepareSample(sample(0));
  assert.ok(irrelevance.ok);
  assert.equal(irrelevance.sample.groundTruth, '{"calls":[]}');
});

/** The system turn Qwen2.5's chat template renders for these tools (tokenizer_config.json's chat_template; test/fixtures/chat-templates). */
const WEATHER_SYSTEM_TOOLS = [
  "# Tools",
  "",
  "You may call one or more functions to assist with the user query.",
  "",
  "You are provided with function signatures within <tools></tools> XML tags:",
  "<tools>",
  '{"type": "function", "function": {"name": "get_weather", "description": "Weather now.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}',
  "</tools>",
  "",
  "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
  "<tool_call>",
  '{"name": <function-name>, "arguments": <args-json-object>}',
  "</tool_call>",
].join("\n");

test("prepareSample: by default the system turn is the one Qwen2.5's template renders for tools= (verl's RL dataset passes no per-row tools)", () => {
  const r = prepareSample(sample(2));
  assert.ok(r.ok);
  const [system, user] = r.sample.prompt;
  assert.equal(user?.role, "user");
  assert.equal(system?.role, "system");
  assert.equal(system?.content, `You call tools.\n\n${WEATHER_SYSTEM_TOOLS}`);
  assert.equal(hermesToolsBlock(JSON.parse(r.sample.tools) as never), WEATHER_SYSTEM_TOOLS);
  // No system turn: the template's default system text comes first, as vLLM renders it.
  const noSystem = prepareSample({ ...sample(1), messages: sample(1).messages.filter((m) => m.role !== "system") });
  assert.ok(noSystem.ok);
  assert.equal(noSystem.sample.prompt[0]?.role, "system");
  assert.equal(noSystem.sample.prompt[0]?.content, `${QWEN25_DEFAULT_SYSTEM}\n\n${WEATHER_SYSTEM_TOOLS}`);
  // An empty system turn stays empty in front of the block (the template writes its content as is).
  const empty = prepareSample({ ...sample(1), messages: [{ role: "system", content: "" }, ...sample(1).messages.filter((m) => m.role !== "system")] });
  assert.ok(empty.ok);
  assert.equal(empty.sample.prompt[0]?.content, `\n\n${WEATHER_SYSTEM_TOOLS}`);
  // No tools: the template renders the prompt as stored.
  const none = prepareSample({ ...sample(1), tools: [] });
  assert.ok(none.ok);
  assert.deepEqual(none.sample.prompt[0], { role: "system", content: "You call tools." });
});

test("hermesToolsBlock: each tool as vLLM hands it to the template (null for an absent description), json.dumps spacing and float repr", () => {
  const block = hermesToolsBlock([
    { type: "function", function: { name: "f", parameters: { type: "object", properties: { x: { type: "number", minimum: 0.00001, maximum: 2.5 } } } } },
    { type: "function", function: { name: "g", description: "Größe ✓" } },
  ]);
  const lines = block.split("\n");
  assert.deepEqual(lines.slice(lines.indexOf("<tools>") + 1, lines.indexOf("</tools>")), [
    '{"type": "function", "function": {"name": "f", "description": null, "parameters": {"type": "object", "properties": {"x": {"type": "number", "minimum": 1e-05, "maximum": 2.5}}}}}',
    '{"type": "function", "function": {"name": "g", "description": "Größe ✓", "parameters": null}}',
  ]);
});

test("prepareSample: an earlier turn's calls are rendered as Hermes <tool_call> blocks; tool results keep their role", () => {
  const r = prepareSample(
    {
      id: "multi",
      tools: [weather],
      messages: [
        { role: "user", content: "Paris?" },
        { role: "assistant", content: null, tool_calls: [call("x", "get_weather", { city: "Paris" })] },
        { role: "tool", tool_call_id: "x", content: '{"temp": 20}' },
        { role: "user", content: "And Oslo?" },
        { role: "assistant", content: null, tool_calls: [call("y", "get_weather", "")] },
      ],
    },
    "none",
  );
  assert.ok(r.ok);
  assert.deepEqual(r.sample.prompt[1], { role: "assistant", content: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>' });
  assert.deepEqual(r.sample.prompt[2], { role: "tool", content: '{"temp": 20}' });
  // Empty arguments on the wire mean no arguments.
  assert.deepEqual(JSON.parse(r.sample.groundTruth), { calls: [{ name: "get_weather", arguments: {} }] });
});

test("prepareSample: samples that cannot be rows get a reason naming the field, never a throw", () => {
  const bad: [unknown, RegExp][] = [
    [{ id: "", messages: [], tools: [] }, /^id:/],
    [{ id: "a", messages: [{ role: "user", content: "hi" }], tools: [] }, /prompt and a label turn/],
    [
      {
        id: "a",
        messages: [
          { role: "assistant", content: "x" },
          { role: "user", content: "hi" },
        ],
        tools: [],
      },
      /messages\[1\]: the last message must be the assistant's label turn/,
    ],
    [
      {
        id: "a",
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: null, tool_calls: [call("c", "f", "{not json")] },
        ],
        tools: [],
      },
      /tool_calls\[0\] \(f\): arguments are not a JSON object/,
    ],
    [
      {
        id: "a",
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: null, tool_calls: [call("c", "f", "[1]")] },
        ],
        tools: [],
      },
      /arguments are not a JSON object/,
    ],
    [
      {
        id: "a",
        messages: [
          { role: "system", content: "s" },
          { role: "assistant", content: "x" },
        ],
        tools: [],
      },
      /no user turn/,
    ],
    [
      {
        id: "a",
        messages: [
          { role: "user", content: 3 },
          { role: "assistant", content: "x" },
        ],
        tools: [],
      },
      /messages\[0\] \(user\): content must be a string/,
    ],
    [
      {
        id: "a",
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "x" },
        ],
        tools: [{}],
      },
      /tools:/,
    ],
    [null, /^id:/],
  ];
  for (const [input, reason] of bad) {
    const r = prepareSample(input as VerlSourceSample);
    assert.equal(r.ok, false, JSON.stringify(input));
    if (!r.ok) assert.match(r.reason, reason);
  }
});

/** Binomial bound: |val - n p| within 4 standard deviations (plus one for rounding). */
function assertNearShare(val: number, n: number, p: number, what: string) {
  const slack = 4 * Math.sqrt(n * p * (1 - p)) + 1;
  assert.ok(Math.abs(val - n * p) <= slack, `${what}: ${val} of ${n} in validation, expected ${n * p} +- ${slack.toFixed(1)}`);
}

test("splitByKey: no sample is validation in one export and train in another when the pool grows, shrinks or the seed changes", () => {
  const side = (r: SplitResult) => new Map([...r.val.map((id) => [id, "val"] as const), ...r.train.map((id) => [id, "train"] as const)]);
  const assertNoCrossing = (a: SplitResult, b: SplitResult, what: string) => {
    const sa = side(a);
    const crossed = [...side(b)].filter(([id, s]) => sa.has(id) && sa.get(id) !== s).map(([id]) => id);
    assert.deepEqual(crossed, [], `${what}: samples that changed sides`);
  };
  const first = Array.from({ length: 150 }, (_, i) => `s_${i}`);
  const second = [...first.slice(30), ...Array.from({ length: 120 }, (_, i) => `t_${i}`)];
  const grown = [...first, ...Array.from({ length: 400 }, (_, i) => `u_${i}`)];
  const a = splitByKey(first, 0.1);
  assert.ok(a.val.length > 0);
  assertNoCrossing(a, splitByKey(grown, 0.1), "pool grown by 400 ids");
  assertNoCrossing(a, splitByKey(second, 0.1), "pool with 30 ids gone and 120 new");
  assertNoCrossing(a, splitByKey(first.slice(0, 40), 0.1), "pool shrunk to 40");
  // A dialogue's cuts move together across exports as well.
  const dialogueOf = (id: string) => `d${Number(id.slice(2)) % 25}`;
  const moreCuts = Array.from({ length: 300 }, (_, i) => `s_${i}`);
  assertNoCrossing(splitByKey(first, 0.1, dialogueOf), splitByKey(moreCuts, 0.1, dialogueOf), "dialogues that gained cuts");
});

test("splitByKey: size near the share, independent of input order, sorted, validated", () => {
  for (const n of [20, 200, 2000]) {
    const ids = Array.from({ length: n }, (_, i) => `id${i}`);
    const a = splitByKey(ids, 0.1);
    assertNearShare(a.val.length, n, 0.1, `n=${n}`);
    assert.equal(a.train.length + a.val.length, n);
    assert.equal(new Set([...a.train, ...a.val]).size, n);
    assert.deepEqual(splitByKey([...ids].reverse(), 0.1), a);
    assert.deepEqual(a.train, [...a.train].sort());
    assert.deepEqual(a.val, [...a.val].sort());
    // A larger share holds out a superset: the threshold only moves up.
    const wider = splitByKey(ids, 0.3);
    assert.ok(a.val.every((id) => wider.val.includes(id)));
    assertNearShare(wider.val.length, n, 0.3, `n=${n}, 0.3`);
  }
  // Each side is a fixed function of the id: the fraction below the threshold.
  const ids = Array.from({ length: 200 }, (_, i) => `id${i}`);
  const a = splitByKey(ids, 0.1);
  assert.deepEqual(a.val, ids.filter((id) => splitFraction(id) < 0.1).sort());
  assert.ok(ids.every((id) => splitFraction(id) >= 0 && splitFraction(id) < 1));
  assert.throws(() => splitByKey(ids, 1), /valFraction: expected a number in \[0, 1\)/);
  assert.throws(() => splitByKey(ids, Number.NaN), /valFraction/);
  assert.throws(() => splitByKey(ids, -0.1), /valFraction/);
});

test("splitByKey guards: none below two samples or at 0, never all, at least one when the threshold holds out none", () => {
  assert.deepEqual(splitByKey(["a"], 0.5), { val: [], train: ["a"] });
  assert.deepEqual(splitByKey(["b", "a"], 0), { val: [], train: ["a", "b"] });
  assert.deepEqual(splitByKey([], 0.5), { val: [], train: [] });
  // Ten ids at 0.99: the rule holds out (nearly) all; one trains, the one with the highest hash.
  const ten = Array.from({ length: 10 }, (_, i) => `id${i}`);
  const most = splitByKey(ten, 0.99);
  assert.ok(most.train.length >= 1 && most.val.length >= 1);
  const highest = [...ten].sort((x, y) => splitFraction(y) - splitFraction(x))[0]!;
  assert.ok(most.train.includes(highest));
  // Two ids at a share below both fractions: the lowest is held out.
  const two = ["x", "y"];
  const tiny = Math.min(...two.map(splitFraction)) / 2;
  const lowest = [...two].sort((p, q) => splitFraction(p) - splitFraction(q))[0]!;
  assert.deepEqual(splitByKey(two, tiny).val, [lowest]);
  // One dialogue only: nothing can be held out without leaving nothing to train on.
  const one = splitByKey(ten, 0.5, () => "d");
  assert.deepEqual([one.val.length, one.train.length], [0, 10]);
});

test("splitByKey with groups: a dialogue's cuts land on one side, keyed by the dialogue; without groups the split is unchanged", () => {
  const ids = Array.from({ length: 200 }, (_, i) => `id${i}`);
  const plain = splitByKey(ids, 0.1);
  assert.deepEqual(
    splitByKey(ids, 0.1, () => undefined),
    plain,
    "ungrouped ids split as without groupOf",
  );
  // 400 dialogues of 5 cuts each.
  const many = Array.from({ length: 2000 }, (_, i) => `id${i}`);
  const dialogueOf = (id: string) => `d${Number(id.slice(2)) % 400}`;
  const g = splitByKey(many, 0.1, dialogueOf);
  const sides = new Map<string, Set<string>>();
  for (const [side, list] of [
    ["train", g.train],
    ["val", g.val],
  ] as const)
    for (const id of list) sides.set(dialogueOf(id), (sides.get(dialogueOf(id)) ?? new Set()).add(side));
  assert.ok(
    [...sides.values()].every((s) => s.size === 1),
    "no dialogue has cuts in both train and validation",
  );
  const valDialogues = [...sides].filter(([, s]) => s.has("val")).map(([d]) => d);
  assert.deepEqual(
    valDialogues.sort(),
    [...new Set(many.map(dialogueOf))].filter((d) => splitFraction(`group\n${d}`) < 0.1).sort(),
    "side from the dialogue's key",
  );
  assertNearShare(valDialogues.length, 400, 0.1, "dialogues");
  assert.equal(g.val.length, valDialogues.length * 5);
  assert.equal(g.train.length + g.val.length, 2000);
  assert.deepEqual(splitByKey([...many].reverse(), 0.1, dialogueOf), g, "independent of input order");
  // A group named like a sample id does not merge with that sample.
  const tagged = splitByKey(["id1", "a", "b"], 0.5, (id) => (id === "id1" ? undefined : "id1"));
  assert.ok(!(tagged.val.includes("a") && tagged.train.includes("b")) && !(tagged.val.includes("b") && tagged.train.includes("a")));
  // Uneven groups: the big group is never split, something always trains.
  const uneven = (id: string) => (Number(id.slice(2)) < 150 ? "big" : `small${Number(id.slice(2)) % 10}`);
  const u = splitByKey(ids, 0.1, uneven);
  assert.ok(u.train.length > 0 && u.val.length > 0, `${u.val.length} / ${u.train.length}`);
  assert.ok(!(u.val.includes("id0") && u.train.includes("id1")) && !(u.train.includes("id0") && u.val.includes("id1")), "the big group is not split");
});

test("writeVerlDataset: a grown pool exported under another seed (a later iteration, a continuing campaign) trains on none of the earlier validation samples", async () => {
  const sideOf = async (dir: string) => {
    const ids = async (file: string) => readRows(await readFile(path.join(dir, file))).map((r) => (r.extra_info as { sample_id: string }).sample_id);
    return { train: await ids("train.parquet"), val: await ids("val.parquet") };
  };
  const provenance = { campaignId: "c", iteration: 1 };
  const first = path.join(root, "leak-1");
  await writeVerlDataset({ samples: Array.from({ length: 60 }, (_, i) => sample(i)), dir: first, valFraction: 0.1, seed: 7, provenance });
  const second = path.join(root, "leak-2");
  await writeVerlDataset({ samples: Array.from({ length: 120 }, (_, i) => sample(i + 20)), dir: second, valFraction: 0.1, seed: 8, provenance });
  const a = await sideOf(first);
  const b = await sideOf(second);
  assert.ok(a.val.length > 0);
  assert.deepEqual(
    a.val.filter((id) => b.train.includes(id)),
    [],
    "validation samples of the first export trained in the second",
  );
  assert.deepEqual(
    a.train.filter((id) => b.val.includes(id)),
    [],
    "trained samples of the first export in the second's validation",
  );
});

test("writeVerlDataset: parquet rows in verl's schema, manifest hashes match the files, SFT set of the train split", async () => {
  const dir = path.join(root, "full");
  const samples = [
    ...Array.from({ length: 30 }, (_, i) => sample(i)),
    { id: "broken", messages: [{ role: "user" as const, content: "hi" }], tools: [] },
    sample(3), // a repeated id
  ];
  const progress: number[] = [];
  const manifest = await writeVerlDataset({
    samples,
    dir,
    valFraction: 0.2,
    seed: 11,
    sft: true,
    toolsInPrompt: "none",
    provenance: { campaignId: "c1", iteration: 2, configHash: "abc", models: { generator: "m" }, simulated: true },
    onProgress: (n) => progress.push(n),
  });
  assert.deepEqual(progress, [32]);
  // 30 ids at 0.2: the hash rule holds out 4 of them (binomial around 6; the old exact rule held out 6).
  assert.deepEqual(manifest.counts, { train: 26, val: 4, sft: 26 });
  assert.equal(manifest.skipped.count, 2);
  assert.deepEqual(
    manifest.skipped.examples.map((e) => e.sampleId),
    ["broken", "s_0003"],
  );
  assert.deepEqual(manifest.provenance, { campaignId: "c1", iteration: 2, configHash: "abc", models: { generator: "m" }, simulated: true, seed: 11 });
  assert.deepEqual(manifest.split, { salt: SPLIT_SALT, seed: 11, valFraction: 0.2 });

  const paths = verlDatasetPaths(dir);
  assert.deepEqual((await readdir(dir)).sort(), ["manifest.json", "sample_ids.txt", "sft.jsonl", "sft.parquet", "train.parquet", "val.parquet"]);
  const onDisk = JSON.parse(await readFile(paths.manifest, "utf8")) as VerlManifest;
  assert.deepEqual(onDisk, manifest);
  for (const key of ["train", "val", "sft", "sampleIds"] as const) {
    const entry = manifest.files[key]!;
    const bytes = await readFile(path.join(dir, entry.name));
    assert.equal(entry.bytes, bytes.length, key);
    assert.equal(entry.sha256, createHash("sha256").update(bytes).digest("hex"), key);
  }
  const ids = (await readFile(paths.sampleIds, "utf8")).trimEnd().split("\n");
  assert.equal(ids.length, 30);
  assert.deepEqual(ids, [...ids].sort());
  assert.equal(manifest.idsSha256, createHash("sha256").update(ids.join("\n")).digest("hex"));

  const train = readRows(await readFile(paths.train));
  const val = readRows(await readFile(paths.val));
  assert.equal(train.length, 26);
  assert.equal(val.length, 4);
  const split = splitByKey(ids, 0.2);
  assert.deepEqual(
    val.map((r) => (r.extra_info as { sample_id: string }).sample_id),
    split.val,
  );
  const first = train[0]!;
  const firstId = split.train[0]!;
  const source = sample(Number(firstId.slice(2)));
  const prepared = prepareSample(source, "none");
  assert.ok(prepared.ok);
  assert.deepEqual(first, {
    data_source: "toolloop",
    prompt: source.messages.slice(0, -1),
    ability: "tool_use",
    reward_model: { style: "rule", ground_truth: prepared.sample.groundTruth },
    extra_info: {
      split: "train",
      index: 0,
      sample_id: firstId,
      tools: JSON.stringify([{ type: "function", function: { name: "get_weather", description: "Weather now.", parameters: weather.inputSchema } }]),
    },
  });
  assert.deepEqual(
    val.map((r) => (r.extra_info as { index: number; split: string }).index),
    [0, 1, 2, 3],
  );
  assert.ok(val.every((r) => (r.extra_info as { split: string }).split === "val"));

  const sft = (await readFile(paths.sft, "utf8"))
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as { messages: ChatMessage[]; tools: unknown[] });
  assert.equal(sft.length, 26);
  assert.deepEqual(Object.keys(sft[0]!), ["messages", "tools"]);
  assert.deepEqual(sft[0]!.messages, source.messages);
  assert.equal(sft[0]!.messages.at(-1)!.role, "assistant");
});

test("writeVerlDataset: deterministic bytes for the same samples in any order; rewrites replace files and drop a stale SFT set", async () => {
  const a = await writeVerlDataset({
    samples: Array.from({ length: 12 }, (_, i) => sample(i)),
    dir: path.join(root, "a"),
    valFraction: 0.25,
    seed: 3,
    sft: true,
    provenance: { campaignId: "c", iteration: 1 },
  });
  const b = await writeVerlDataset({
    samples: Array.from({ length: 12 }, (_, i) => sample(11 - i)),
    dir: path.join(root, "b"),
    valFraction: 0.25,
    seed: 3,
    sft: true,
    provenance: { campaignId: "c", iteration: 1 },
  });
  assert.deepEqual(a.files, b.files);
  assert.equal(a.idsSha256, b.idsSha256);
  const again = await writeVerlDataset({
    samples: [sample(1), sample(2)],
    dir: path.join(root, "a"),
    valFraction: 0,
    seed: 3,
    provenance: { campaignId: "c", iteration: 1 },
  });
  assert.deepEqual(again.counts, { train: 2, val: 0, sft: 0 });
  assert.equal(again.files.sft, undefined);
  assert.deepEqual((await readdir(path.join(root, "a"))).sort(), ["manifest.json", "sample_ids.txt", "train.parquet", "val.parquet"]);
  assert.equal(readRows(await readFile(path.join(root, "a", "val.parquet"))).length, 0);
});

test("writeVerlDataset: a failing sample source leaves the previous dataset and no temp files", async () => {
  const dir = path.join(root, "fail");
  const before = await writeVerlDataset({
    samples: [sample(1), sample(2), sample(4)],
    dir,
    valFraction: 0.3,
    seed: 1,
    provenance: { campaignId: "c", iteration: 1 },
  });
  const trainBytes = await readFile(path.join(dir, "train.parquet"));
  async function* failing(): AsyncIterable<VerlSourceSample> {
    yield sample(5);
    throw new Error("database went away");
  }
  await assert.rejects(
    writeVerlDataset({ samples: failing(), dir, valFraction: 0.3, seed: 1, provenance: { campaignId: "c", iteration: 1 } }),
    /database went away/,
  );
  assert.deepEqual(await readFile(path.join(dir, "train.parquet")), trainBytes);
  assert.deepEqual(JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")), before);
  assert.ok((await readdir(dir)).every((f) => !f.endsWith(".tmp")));
  await assert.rejects(writeVerlDataset({ samples: [], dir, valFraction: 1.5, seed: 1, provenance: { campaignId: "c", iteration: 1 } }), /valFraction/);
  const aborted = new AbortController();
  aborted.abort(new Error("cancelled"));
  await assert.rejects(
    writeVerlDataset({ samples: [sample(1)], dir, valFraction: 0, seed: 1, provenance: { campaignId: "c", iteration: 1 }, signal: aborted.signal }),
    /cancelled/,
  );
});

test("writeVerlDataset: a pool weight repeats the sample's train rows (never its validation row); the split is by distinct sample", async () => {
  const dir = path.join(root, "weighted");
  const plain = Array.from({ length: 20 }, (_, i) => sample(i));
  const unweighted = await writeVerlDataset({
    samples: plain,
    dir,
    valFraction: 0.25,
    seed: 3,
    sft: true,
    toolsInPrompt: "none",
    provenance: { campaignId: "c", iteration: 1 },
  });
  const weighted = plain.map((s, i) => (i % 4 === 0 ? { ...s, repeats: 3 } : s));
  const manifest = await writeVerlDataset({
    samples: weighted,
    dir,
    valFraction: 0.25,
    seed: 3,
    sft: true,
    toolsInPrompt: "none",
    provenance: { campaignId: "c", iteration: 1 },
  });
  const trainIds = readRows(await readFile(verlDatasetPaths(dir).train)).map((r) => (r.extra_info as { sample_id: string }).sample_id);
  const valIds = readRows(await readFile(verlDatasetPaths(dir).val)).map((r) => (r.extra_info as { sample_id: string }).sample_id);
  const heavyInTrain = weighted.filter((s) => s.repeats === 3 && trainIds.includes(s.id)).map((s) => s.id);
  assert.ok(heavyInTrain.length > 0, "some weighted samples fall in the train split");
  for (const id of heavyInTrain) assert.equal(trainIds.filter((t) => t === id).length, 3, `${id} appears three times`);
  assert.equal(new Set(valIds).size, valIds.length, "validation rows are distinct");
  assert.equal(manifest.counts.val, unweighted.counts.val, "the same samples are held out");
  assert.equal(manifest.counts.train, unweighted.counts.train + 2 * heavyInTrain.length);
  assert.equal(manifest.counts.sft, manifest.counts.train);
});

test("prepareSample: a float the model wrote with an integral value stays a float (2.0) in the ground truth and the rendered calls, as Python's json.loads keeps it", () => {
  const args =
    '{"city": "Oslo", "days": 2, "step": 2.0, "scale": 1e3, "zero": -0.0, "big": 1e16, "huge": 12345678901234567890.0, "id": 12345678901234567890, "half": 0.5}';
  const prepared = prepareSample({
    id: "floats",
    tools: [weather],
    messages: [
      { role: "user", content: "Weather in Oslo?" },
      { role: "assistant", content: null, tool_calls: [call("a", "get_weather", args)] },
      { role: "tool", tool_call_id: "a", content: "sunny" },
      { role: "assistant", content: null, tool_calls: [call("b", "get_weather", args)] },
    ],
  });
  assert.ok(prepared.ok);
  // Python: json.dumps(json.loads(args)) and json.dumps(json.loads(args), separators=(",", ":")).
  const pythonDumps =
    '{"city": "Oslo", "days": 2, "step": 2.0, "scale": 1000.0, "zero": -0.0, "big": 1e+16, "huge": 1.2345678901234567e+19, "id": 12345678901234567890, "half": 0.5}';
  assert.equal(
    prepared.sample.groundTruth,
    '{"calls":[{"name":"get_weather","arguments":{"city":"Oslo","days":2,"step":2.0,"scale":1000.0,"zero":-0.0,"big":1e+16,"huge":1.2345678901234567e+19,"id":12345678901234567890,"half":0.5}}]}',
  );
  const rendered = `<tool_call>\n{"name": "get_weather", "arguments": ${pythonDumps}}\n</tool_call>`;
  assert.ok(
    prepared.sample.prompt.some((m) => m.role === "assistant" && m.content === rendered),
    JSON.stringify(prepared.sample.prompt),
  );
  assert.equal(prepared.sample.sftMessages.at(-1)!.content, rendered);
});

test("prepareSample: calls are rendered with their keys in the order the model wrote them, integer-like keys included, as json.loads keeps them", () => {
  // A JavaScript object enumerates "2" and "10" before every other key, in numeric order; Python's
  // dict keeps the text's order (a key given twice stays where it first stood, with its last value).
  const args = '{"city": "Oslo", "seats": {"10": "b", "2": "a", "x": 1.0}, "2": true, "x": 1, "id": 12345678901234567890, "x": 3}';
  const prepared = prepareSample({
    id: "ordered",
    tools: [weather],
    messages: [
      { role: "user", content: "Weather in Oslo?" },
      { role: "assistant", content: null, tool_calls: [call("a", "get_weather", args)] },
      { role: "tool", tool_call_id: "a", content: "sunny" },
      { role: "assistant", content: null, tool_calls: [call("b", "get_weather", args)] },
    ],
  });
  assert.ok(prepared.ok);
  // Python: json.dumps(json.loads(args), ensure_ascii=False).
  const pythonDumps = '{"city": "Oslo", "seats": {"10": "b", "2": "a", "x": 1.0}, "2": true, "x": 3, "id": 12345678901234567890}';
  const rendered = `<tool_call>\n{"name": "get_weather", "arguments": ${pythonDumps}}\n</tool_call>`;
  assert.ok(
    prepared.sample.prompt.some((m) => m.role === "assistant" && m.content === rendered),
    JSON.stringify(prepared.sample.prompt),
  );
  assert.equal(prepared.sample.sftMessages.at(-1)!.content, rendered);
});
