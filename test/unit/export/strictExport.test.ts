/** export.dataset's `openai-strict` format: rows with exactly OpenAI's fine-tuning fields, each valid against the row schema. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { McpTool } from "../../../src/domain/types.js";
import { exportDataset, type ExportRow } from "../../../src/export/dataset.js";
import { STRICT_ROW_SCHEMA, toStrictLine } from "../../../src/export/openaiStrict.js";
import { createAjv } from "../../../src/jsonSchema/ajv.js";

const tool: McpTool = {
  name: "get_weather",
  description: "Weather now.",
  inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  outputSchema: { type: "object" },
  annotations: { readOnlyHint: true },
};

const rows: ExportRow[] = [
  {
    id: "s1",
    kind: "parallel",
    status: "verified",
    messages: [
      { role: "system", content: "You call tools." },
      { role: "user", content: "Weather in Paris and Rome?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
          { id: "c2", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: "tool", tool_call_id: "c1", content: "sunny" },
      { role: "tool", tool_call_id: "c2", content: "rain" },
      { role: "assistant", content: "Sunny in Paris, rain in Rome." },
    ],
    tools: [tool],
    metadata: { provenance: { simulated: true }, slot: 1 },
    // A whole-trajectory row: the label is the call turn, the tool results and the answer follow it.
    labelIndex: 2,
  },
  {
    id: "s2",
    kind: "irrelevance",
    status: "verified",
    messages: [
      { role: "user", content: "Tell me a joke." },
      { role: "assistant", content: null },
    ],
    tools: [tool],
    metadata: {},
  },
];

async function* iter(list: ExportRow[]): AsyncIterable<ExportRow> {
  for (const r of list) yield r;
}

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "toolloop-strict-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test("openai-strict rows carry only messages and tools with OpenAI's documented fields, each valid against the schema", async () => {
  const manifest = await exportDataset({ rows: iter(rows), dir: tmp, baseName: "dataset", format: "openai-strict", meta: { provenance: { simulated: true } } });
  assert.equal(manifest.format, "openai-chat-strict/v1");
  assert.equal(manifest.rows, 2);
  assert.deepEqual((manifest.meta as { provenance: unknown }).provenance, { simulated: true }, "provenance lives in the manifest");
  const lines = (await readFile(path.join(tmp, "dataset.jsonl"), "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const validate = createAjv().compile(STRICT_ROW_SCHEMA);
  const allowedMessageKeys: Record<string, string[]> = {
    system: ["role", "content"],
    user: ["role", "content"],
    assistant: ["role", "content", "tool_calls"],
    tool: ["role", "tool_call_id", "content"],
  };
  for (const line of lines) {
    assert.ok(validate(line), JSON.stringify(validate.errors));
    assert.deepEqual(Object.keys(line).sort(), ["messages", "tools"]);
    for (const m of line.messages as Record<string, unknown>[]) {
      for (const k of Object.keys(m)) assert.ok(allowedMessageKeys[m.role as string]?.includes(k), `message key ${k} on ${String(m.role)}`);
      for (const c of (m.tool_calls as Record<string, unknown>[] | undefined) ?? []) {
        assert.deepEqual(Object.keys(c).sort(), ["function", "id", "type"]);
        assert.deepEqual(Object.keys(c.function as object).sort(), ["arguments", "name"]);
      }
    }
    for (const t of line.tools as Record<string, unknown>[]) {
      assert.deepEqual(Object.keys(t).sort(), ["function", "type"]);
      assert.deepEqual(Object.keys(t.function as object).sort(), ["description", "name", "parameters"], "MCP outputSchema/annotations are not OpenAI fields");
    }
  }
  const first = lines[0] as { messages: Record<string, unknown>[] };
  assert.ok(!("content" in first.messages[2]!), "an assistant tool-call turn without text has no content key (null is not sent)");
  const second = lines[1] as { messages: Record<string, unknown>[] };
  assert.equal(second.messages[1]!.content, "", "an assistant turn with neither text nor calls gets empty text");
});

test("the schema rejects extra keys at every level", () => {
  const validate = createAjv().compile(STRICT_ROW_SCHEMA);
  const good = toStrictLine(rows[0]!.messages, rows[0]!.tools);
  assert.ok(validate(good));
  for (const bad of [
    { ...good, metadata: {} },
    { ...good, id: "s1" },
    { ...good, messages: [{ role: "user", content: "x", name: "n", extra: 1 }] },
    { ...good, messages: [{ role: "tool", content: "x" }] },
    { ...good, messages: [{ role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}", extra: 1 } }] }] },
    { ...good, tools: [{ type: "function", function: { name: "f", strict: true } }] },
  ])
    assert.equal(validate(bad), false, JSON.stringify(bad).slice(0, 120));
});

test("a row that cannot be a strict row fails the export naming the sample and the field", async () => {
  const broken: ExportRow = { id: "s-bad", kind: "standard", status: "verified", messages: [], tools: [] };
  await assert.rejects(
    exportDataset({ rows: iter([broken]), dir: path.join(tmp, "bad"), baseName: "dataset", format: "openai-strict" }),
    /export row s-bad: not a valid OpenAI fine-tuning row \(openai-strict\): \/messages: must NOT have fewer than 1 items/,
  );
});

test("a tool or call name OpenAI refuses (MCP allows dots and 128 characters) fails the strict export naming the sample", async () => {
  const dotted: McpTool = { ...tool, name: "weather.v2-lookup" };
  const row: ExportRow = {
    id: "s-dotted",
    kind: "standard",
    status: "verified",
    messages: [
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "weather.v2-lookup", arguments: '{"city":"Paris"}' } }],
      },
    ],
    tools: [dotted],
  };
  await assert.rejects(
    exportDataset({ rows: iter([row]), dir: path.join(tmp, "dotted"), baseName: "dataset", format: "openai-strict" }),
    /export row s-dotted: not a valid OpenAI fine-tuning row \(openai-strict\): .*must match pattern "\^\[a-zA-Z0-9_-\]\{1,64\}\$"/,
  );
  const long = "f".repeat(65);
  const validate = createAjv().compile(STRICT_ROW_SCHEMA);
  assert.equal(validate(toStrictLine(row.messages, [{ ...tool, name: long }])), false, "65 characters is one too many");
  assert.equal(validate(toStrictLine([row.messages[0]!], [{ ...tool, name: "get_weather-v2" }])), true, "letters, digits, _ and - pass");
  // The toolloop format keeps MCP's names as they are.
  const manifest = await exportDataset({ rows: iter([row]), dir: path.join(tmp, "dotted-toolloop"), baseName: "dataset" });
  assert.equal(manifest.rows, 1);
});
