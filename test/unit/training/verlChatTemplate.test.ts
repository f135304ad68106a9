/**
 * Train/serve agreement of the prompt text. verl renders our parquet's `prompt` (and the SFT
 * parquet's `messages`) with the model's chat template and no tools; vLLM, serving the trained
 * model, renders the same conversation with the template and `tools=`. For the Qwen2.5 template
 * (Hermes tool calls, what serve.policy's default `toolCallParser: hermes` assumes) both must be
 * the same text, byte for byte. Rendered with jinja2 under .venv-train, the way transformers'
 * apply_chat_template does (test/helpers/render_chat_template.py); the template is Qwen2.5-Instruct's
 * own (test/fixtures/chat-templates/SOURCE.md). Needs the venv: `bash scripts/ensure-train-venv.sh`.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { toOpenAiTool, type ChatMessage, type McpTool } from "../../../src/domain/types.js";
import { writeVerlDataset } from "../../../src/training/verl/dataset.js";
import type { VerlSourceSample } from "../../../src/training/verl/rows.js";
import { REPO_ROOT, runTrainPython } from "../../helpers/trainVenv.js";

const TEMPLATE = path.join(REPO_ROOT, "test", "fixtures", "chat-templates", "qwen2.5-instruct.jinja");
const RENDER = path.join(REPO_ROOT, "test", "helpers", "render_chat_template.py");

const weather: McpTool = {
  name: "get_weather",
  description: 'Weather now.\nSays "sunny" — or not; ünïcode ✓ & <b>tags</b>.',
  inputSchema: {
    type: "object",
    properties: {
      city: { type: "string", description: "City name, e.g. Zürich" },
      unit: { type: "string", enum: ["c", "f"], default: "c" },
      days: { type: "integer", minimum: 1, maximum: 10 },
      step: { type: "number", default: 0.5, minimum: 0.00001 },
      coords: { type: "object", properties: { lat: { type: "number" }, lon: { type: "number" } }, required: ["lat", "lon"] },
      tags: { type: "array", items: { type: "string" } },
    },
    required: ["city"],
  },
};
/** An empty description and no properties. */
const bare: McpTool = { name: "ping", description: "", inputSchema: { type: "object", properties: {} } };
const book: McpTool = {
  name: "book_flight",
  description: "Books a flight.",
  inputSchema: { type: "object", properties: { from: { type: "string" }, to: { type: "string" }, seats: { type: "integer" } }, required: ["from", "to"] },
};

const call = (id: string, name: string, args: unknown) => ({
  id,
  type: "function" as const,
  function: { name, arguments: typeof args === "string" ? args : JSON.stringify(args) },
});

const samples: VerlSourceSample[] = [
  {
    id: "system-parallel",
    tools: [weather, book],
    messages: [
      { role: "system", content: "You call tools." },
      { role: "user", content: "Weather in Zürich and Oslo — ✓?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [call("a", "get_weather", { city: "Zürich" }), call("b", "get_weather", { city: "Oslo", unit: "f" })],
      },
    ],
  },
  {
    id: "no-system",
    tools: [bare, weather],
    messages: [
      { role: "user", content: "Ping, then weather?" },
      { role: "assistant", content: null, tool_calls: [call("p", "ping", {})] },
    ],
  },
  {
    id: "empty-system",
    tools: [book],
    messages: [
      { role: "system", content: "" },
      { role: "user", content: "Fly me from A to B." },
      { role: "assistant", content: null, tool_calls: [call("f", "book_flight", { from: "A", to: "B" })] },
    ],
  },
  {
    id: "irrelevant",
    tools: [weather],
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Write me a poem." },
      { role: "assistant", content: "I can't help with that." },
    ],
  },
  {
    id: "no-tools",
    tools: [],
    messages: [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello!" },
    ],
  },
  {
    id: "multi-turn",
    tools: [weather, book],
    messages: [
      { role: "system", content: "You call tools." },
      { role: "user", content: "Weather in Paris and Rome, at 1.5 step and 1e-05 precision?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          call("x", "get_weather", { city: "Paris", step: 1.5, coords: { lat: 48.85, lon: 2.35 }, tags: ["a", "ü"] }),
          call("y", "get_weather", { city: "Rome", step: 0.00001, days: 3 }),
        ],
      },
      { role: "tool", tool_call_id: "x", content: '{"temp": 20, "sky": "sunny"}' },
      { role: "tool", tool_call_id: "y", content: '{"temp": 25}' },
      { role: "assistant", content: "Paris 20°, Rome 25°." },
      { role: "user", content: "Book Paris to Rome, 2 seats." },
      { role: "assistant", content: "Booking it.", tool_calls: [call("z", "book_flight", { from: "Paris", to: "Rome", seats: 2 })] },
      { role: "tool", tool_call_id: "z", content: 'booked "PR-1"\nconfirmed' },
      { role: "user", content: "And the weather in Oslo, no arguments but the city?" },
      { role: "assistant", content: "Checking.", tool_calls: [call("w", "get_weather", '{"city": "Oslo"}')] },
    ],
  },
  {
    // Integers past 2^53 (order ids) as the model wrote them: Python's json.loads keeps them exact, and so must we.
    id: "big-integers",
    tools: [book],
    messages: [
      { role: "user", content: "Book seats for orders 12345678901234567890 and -98765432109876543210." },
      { role: "assistant", content: null, tool_calls: [call("o", "book_flight", '{"from": "A", "to": "B", "seats": 12345678901234567890}')] },
      { role: "tool", tool_call_id: "o", content: '{"ok": true}' },
      {
        role: "assistant",
        content: null,
        tool_calls: [call("q", "book_flight", '{"from": "B", "to": "A", "seats": -98765432109876543210, "n": 9007199254740993}')],
      },
    ],
  },
  {
    // Floats with an integral value: json.loads keeps them floats and tojson writes 2.0 (JSON.parse made them ints).
    id: "integral-floats",
    tools: [weather],
    messages: [
      { role: "user", content: "Weather in Oslo, step 2, scale 1000?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [call("s", "get_weather", '{"city": "Oslo", "step": 2.0, "days": 3, "coords": {"lat": 60.0, "lon": 1e1}}')],
      },
      { role: "tool", tool_call_id: "s", content: "cold" },
      { role: "assistant", content: null, tool_calls: [call("t", "get_weather", '{"city": "Oslo", "step": 1E16, "tags": [-0.0, 0.5]}')] },
    ],
  },
  {
    // Integer-like keys: json.loads keeps the text's order (a JavaScript object puts "2" and "10" first).
    id: "integer-like-keys",
    tools: [weather],
    messages: [
      { role: "user", content: "Weather in Oslo?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [call("k", "get_weather", '{"city": "Oslo", "coords": {"lon": 1.0, "10": 1, "2": 2}, "2": 12345678901234567890, "city": "Bergen"}')],
      },
      { role: "tool", tool_call_id: "k", content: "rain" },
      { role: "assistant", content: "Rain." },
    ],
  },
];

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "verl-template-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Rendered = Record<string, { served: string; trained: string; served_sft?: string; trained_sft?: string }>;

function render(parquet: string, sft?: string): Rendered {
  const conversations = Object.fromEntries(samples.map((s) => [s.id, { messages: s.messages satisfies ChatMessage[], tools: s.tools.map(toOpenAiTool) }]));
  const r = runTrainPython([RENDER, TEMPLATE, parquet, ...(sft ? [sft] : [])], JSON.stringify(conversations));
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Rendered;
}

test("verl's RL prompt renders, with Qwen2.5's chat template, to exactly what vLLM renders for the same conversation and tools", async () => {
  // Everything in the train split, so one file holds every sample.
  await writeVerlDataset({ samples, dir, valFraction: 0, seed: 1, sft: true, provenance: { campaignId: "c", iteration: 1 } });
  const out = render(path.join(dir, "train.parquet"), path.join(dir, "sft.parquet"));
  assert.deepEqual(Object.keys(out).sort(), samples.map((s) => s.id).sort());
  for (const s of samples) {
    const r = out[s.id]!;
    assert.equal(r.trained, r.served, `${s.id}: the RL prompt`);
    assert.equal(r.trained_sft, r.served_sft, `${s.id}: the SFT conversation`);
  }
  assert.ok(out["big-integers"]!.trained.includes('"seats": 12345678901234567890}'), out["big-integers"]!.trained);
  assert.ok(out["big-integers"]!.trained_sft!.includes('"seats": -98765432109876543210, "n": 9007199254740993}'), out["big-integers"]!.trained_sft);
  assert.ok(out["integral-floats"]!.trained.includes('"step": 2.0, "days": 3, "coords": {"lat": 60.0, "lon": 10.0}}'), out["integral-floats"]!.trained);
  assert.ok(out["integral-floats"]!.trained_sft!.includes('"step": 1e+16, "tags": [-0.0, 0.5]}'), out["integral-floats"]!.trained_sft);
  // The tools block really is there (not two empty renders agreeing).
  assert.match(out["no-system"]!.served, /^<\|im_start\|>system\nYou are Qwen, created by Alibaba Cloud\. You are a helpful assistant\.\n\n# Tools\n/);
  assert.ok(
    out["no-system"]!.served.includes(
      '\n{"type": "function", "function": {"name": "ping", "description": "", "parameters": {"type": "object", "properties": {}}}}\n',
    ),
  );
});
