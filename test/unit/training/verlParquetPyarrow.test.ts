/**
 * Our parquet as verl reads it: pyarrow (from .venv-train, the library verl's dataset loaders sit on)
 * opens train.parquet and val.parquet and must see exactly the contract's columns and nested types.
 * Needs the venv: `bash scripts/ensure-train-venv.sh` (the test fails, saying so, without it).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { McpTool } from "../../../src/domain/types.js";
import { writeVerlDataset } from "../../../src/training/verl/dataset.js";
import { splitByKey } from "../../../src/training/verl/split.js";
import { runTrainPython } from "../../helpers/trainVenv.js";

/** pyarrow's own rendering of each column's type (str(field.type), never truncated): the names and nested types verl sees. */
const EXPECTED_SCHEMA = [
  "data_source: string not null",
  "prompt: list<element: struct<role: string not null, content: string not null> not null> not null",
  "ability: string not null",
  "reward_model: struct<style: string not null, ground_truth: string not null> not null",
  "extra_info: struct<split: string not null, index: int64 not null, sample_id: string not null, tools: string not null> not null",
].join("\n");

const READ_WITH_PYARROW = `
import json, sys
import pyarrow as pa
import pyarrow.parquet as pq
out = {}
for name in sys.argv[1:]:
    table = pq.read_table(name)
    schema = table.schema.remove_metadata()
    out[name] = {
        "schema": "\\n".join(f"{f.name}: {f.type}{'' if f.nullable else ' not null'}" for f in schema),
        "rows": table.to_pylist(),
        "types": {
            "prompt": pa.types.is_list(schema.field("prompt").type) and pa.types.is_struct(schema.field("prompt").type.value_type),
            "reward_model": pa.types.is_struct(schema.field("reward_model").type),
            "extra_info.index": str(schema.field("extra_info").type.field("index").type),
        },
    }
print(json.dumps(out))
`;

const tool: McpTool = { name: "get_weather", description: "Weather now.", inputSchema: { type: "object", properties: { city: { type: "string" } } } };

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "verl-pyarrow-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("pyarrow reads our parquet with exactly verl's columns and nested types, and the values we wrote", async () => {
  const samples = Array.from({ length: 5 }, (_, i) => ({
    id: `s${i}`,
    tools: [tool],
    messages: [
      { role: "system" as const, content: "You call tools." },
      { role: "user" as const, content: `Weather in Zürich ${i}?` },
      i === 0
        ? { role: "assistant" as const, content: "I can't help with that." }
        : {
            role: "assistant" as const,
            content: null,
            tool_calls: [{ id: "c", type: "function" as const, function: { name: "get_weather", arguments: '{"city":"Zürich"}' } }],
          },
    ],
  }));
  await writeVerlDataset({ samples, dir, valFraction: 0.4, seed: 5, toolsInPrompt: "none", provenance: { campaignId: "c", iteration: 1 } });
  const train = path.join(dir, "train.parquet");
  const val = path.join(dir, "val.parquet");
  const r = runTrainPython(["-c", READ_WITH_PYARROW, train, val]);
  assert.equal(r.status, 0, r.stderr);
  type Read = { schema: string; rows: Record<string, unknown>[]; types: Record<string, unknown> };
  const out = JSON.parse(r.stdout) as Record<string, Read>;
  for (const file of [train, val]) {
    assert.equal(out[file]!.schema, EXPECTED_SCHEMA, file);
    assert.deepEqual(out[file]!.types, { prompt: true, reward_model: true, "extra_info.index": "int64" });
  }
  // The split is a fixed hash of each id (split.ts): for s0..s4 at 0.4 it holds out 3, both files have rows.
  const expected = splitByKey(
    samples.map((s) => s.id),
    0.4,
  );
  assert.deepEqual([expected.train.length, expected.val.length], [2, 3]);
  assert.equal(out[train]!.rows.length, 2);
  assert.equal(out[val]!.rows.length, 3);
  const all = [...out[train]!.rows, ...out[val]!.rows];
  const s0 = all.find((row) => (row.extra_info as { sample_id: string }).sample_id === "s0")!;
  const s1 = all.find((row) => (row.extra_info as { sample_id: string }).sample_id === "s1")!;
  assert.deepEqual(s0.prompt, [
    { role: "system", content: "You call tools." },
    { role: "user", content: "Weather in Zürich 0?" },
  ]);
  assert.equal(s0.data_source, "toolloop");
  assert.equal(s0.ability, "tool_use");
  assert.deepEqual(s0.reward_model, { style: "rule", ground_truth: '{"calls":[]}' });
  assert.deepEqual(JSON.parse((s1.reward_model as { ground_truth: string }).ground_truth), { calls: [{ name: "get_weather", arguments: { city: "Zürich" } }] });
  const info = s1.extra_info as { split: string; index: number; tools: string };
  assert.ok(["train", "val"].includes(info.split));
  assert.equal(typeof info.index, "number");
  assert.deepEqual(JSON.parse(info.tools), [
    { type: "function", function: { name: "get_weather", description: "Weather now.", parameters: tool.inputSchema } },
  ]);
});

test("pyarrow reads an empty validation file with the same schema", async () => {
  const sub = path.join(dir, "empty");
  const one = {
    id: "only",
    tools: [tool],
    messages: [
      { role: "user" as const, content: "hi" },
      { role: "assistant" as const, content: "hello" },
    ],
  };
  await writeVerlDataset({ samples: [one], dir: sub, valFraction: 0.5, seed: 1, provenance: { campaignId: "c", iteration: 1 } });
  const val = path.join(sub, "val.parquet");
  const r = runTrainPython(["-c", READ_WITH_PYARROW, val]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, { schema: string; rows: unknown[] }>;
  assert.equal(out[val]!.schema, EXPECTED_SCHEMA);
  assert.equal(out[val]!.rows.length, 0);
});

test("the SFT parquet is what verl's multi-turn SFT dataset reads: messages list<struct<role, content>>, the label turn last as Hermes text", async () => {
  const sub = path.join(dir, "sft");
  const samples = Array.from({ length: 4 }, (_, i) => ({
    id: `t${i}`,
    tools: [tool],
    messages: [
      { role: "user" as const, content: `Weather in Oslo ${i}?` },
      {
        role: "assistant" as const,
        content: null,
        tool_calls: [{ id: "c", type: "function" as const, function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }],
      },
    ],
  }));
  const manifest = await writeVerlDataset({ samples, dir: sub, valFraction: 0.25, seed: 3, sft: true, provenance: { campaignId: "c", iteration: 1 } });
  assert.equal(manifest.files.sftParquet?.name, "sft.parquet");
  const script = `
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
s = t.schema.remove_metadata()
print(json.dumps({"schema": "\\n".join(f"{f.name}: {f.type}{'' if f.nullable else ' not null'}" for f in s), "rows": t.to_pylist()}))
`;
  const r = runTrainPython(["-c", script, path.join(sub, "sft.parquet")]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { schema: string; rows: { messages: { role: string; content: string }[]; sample_id: string }[] };
  assert.equal(
    out.schema,
    "messages: list<element: struct<role: string not null, content: string not null, weight: int32> not null> not null\nsample_id: string not null",
  );
  assert.equal(out.rows.length, manifest.counts.train);
  for (const row of out.rows) {
    assert.deepEqual(
      row.messages.map((m) => m.role),
      ["system", "user", "assistant"],
      "tools in the system turn, the question, the label",
    );
    assert.match(row.messages[0]!.content, /<tools>\n\{"type": "function", "function": \{"name": "get_weather"/);
    assert.equal(row.messages[2]!.content, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>');
  }
});

test("the SFT parquet marks what is trained: the label turn weight 1, an earlier assistant turn of a multi-turn cut weight 0, other roles null", async () => {
  const sub = path.join(dir, "sft-weights");
  const call = { id: "c", type: "function" as const, function: { name: "get_weather", arguments: '{"city":"Oslo"}' } };
  const samples = [
    {
      id: "m1",
      tools: [tool],
      messages: [
        { role: "user" as const, content: "Weather in Oslo?" },
        { role: "assistant" as const, content: null, tool_calls: [call] },
        { role: "tool" as const, tool_call_id: "c", content: '{"temp": 3}' },
        { role: "assistant" as const, content: "It is 3 degrees in Oslo." },
        { role: "user" as const, content: "And in Bergen?" },
        { role: "assistant" as const, content: null, tool_calls: [{ ...call, function: { ...call.function, arguments: '{"city":"Bergen"}' } }] },
      ],
    },
  ];
  await writeVerlDataset({ samples, dir: sub, valFraction: 0, seed: 3, sft: true, provenance: { campaignId: "c", iteration: 1 } });
  const r = runTrainPython([
    "-c",
    "import json,sys; import pyarrow.parquet as pq; print(json.dumps(pq.read_table(sys.argv[1]).to_pylist()))",
    path.join(sub, "sft.parquet"),
  ]);
  assert.equal(r.status, 0, r.stderr);
  const [row] = JSON.parse(r.stdout) as { messages: { role: string; content: string; weight: number | null }[] }[];
  assert.deepEqual(
    row!.messages.map((m) => [m.role, m.weight]),
    [
      ["system", null],
      ["user", null],
      ["assistant", 0],
      ["user", null],
      ["assistant", 0],
      ["user", null],
      ["assistant", 1],
    ],
  );
  assert.match(row!.messages.at(-1)!.content, /"city": "Bergen"/);
});
