import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import type { ChatMessage, McpTool, SampleKind, ToolCall } from "../../../src/domain/types.js";
import { EXAMPLE_TOOLS } from "../../../src/tools/examples.js";
import { clearValidatorCache, validatorCacheStats } from "../../../src/verification/argumentValidator.js";
import { verifyRules } from "../../../src/verification/rules.js";

const weather: McpTool = {
  name: "get_weather",
  description: "Get the weather forecast for a city.",
  inputSchema: {
    type: "object",
    properties: {
      city: { type: "string" },
      days: { type: "integer", minimum: 1, maximum: 14 },
      unit: { type: "string", enum: ["celsius", "fahrenheit"] },
    },
    required: ["city"],
  },
};

const hotel: McpTool = {
  name: "book_hotel",
  description: "Book a hotel room.",
  inputSchema: {
    type: "object",
    properties: {
      hotel_id: { type: "string" },
      check_in: { type: "string", format: "date" },
      filters: {
        type: "object",
        properties: { max_price: { type: "number" }, tags: { type: "array", items: { type: "string" } } },
        required: ["max_price"],
      },
    },
    required: ["hotel_id", "check_in"],
    // The schema allows extra arguments; our rule still rejects them.
    additionalProperties: true,
  },
};

const tools = [weather, hotel];

function call(id: string, name: string, args: unknown): ToolCall {
  return { id, type: "function", function: { name, arguments: typeof args === "string" ? args : JSON.stringify(args) } };
}

function sample(kind: SampleKind, calls: ToolCall[], extra: Partial<{ messages: ChatMessage[]; tools: McpTool[] }> = {}) {
  const messages: ChatMessage[] = extra.messages ?? [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Please help me." },
    calls.length > 0
      ? { role: "assistant", content: null, tool_calls: calls }
      : { role: "assistant", content: "I cannot help with that using the tools I have." },
  ];
  return { kind, messages, tools: extra.tools ?? tools };
}

beforeEach(() => clearValidatorCache());

test("valid standard, parallel and irrelevance samples pass", () => {
  for (const s of [
    sample("standard", [call("c1", "get_weather", { city: "Paris", days: 3 })]),
    sample("parallel", [
      call("c1", "get_weather", { city: "Paris" }),
      call("c2", "book_hotel", { hotel_id: "h1", check_in: "2025-07-01", filters: { max_price: 120.5, tags: ["pool"] } }),
    ]),
    sample("irrelevance", []),
  ]) {
    assert.deepEqual(verifyRules(s), { verifier: "rules", ok: true, reasons: [] });
  }
});

test("a full exchange with tool results and a final answer passes", () => {
  const c = call("c1", "get_weather", { city: "Oslo" });
  const v = verifyRules(
    sample("standard", [c], {
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        { role: "assistant", content: null, tool_calls: [c] },
        { role: "tool", tool_call_id: "c1", content: '{"temp": 3}' },
        { role: "assistant", content: "It is 3 degrees in Oslo." },
      ],
    }),
  );
  assert.deepEqual(v.reasons, []);
});

test("argument problems: type, missing required, unknown, nested path, enum, format", () => {
  const cases: [ToolCall, string][] = [
    [call("c", "get_weather", { city: "Paris", days: 2.5 }), 'call[0] get_weather: argument "days": must be integer'],
    [call("c", "book_hotel", { hotel_id: "h" }), 'call[0] book_hotel: missing required argument "check_in"'],
    [call("c", "get_weather", { city: "Paris", units: "c" }), 'call[0] get_weather: unknown argument "units"'],
    [call("c", "book_hotel", { hotel_id: "h", check_in: "2025-01-01", extra: 1 }), 'call[0] book_hotel: unknown argument "extra"'],
    [
      call("c", "book_hotel", { hotel_id: "h", check_in: "2025-01-01", filters: { max_price: "cheap" } }),
      'call[0] book_hotel: argument "filters.max_price": must be number',
    ],
    [call("c", "book_hotel", { hotel_id: "h", check_in: "2025-01-01", filters: {} }), 'call[0] book_hotel: missing required argument "filters.max_price"'],
    [
      call("c", "book_hotel", { hotel_id: "h", check_in: "2025-01-01", filters: { max_price: 1, colour: "red" } }),
      'call[0] book_hotel: unknown argument "filters.colour"',
    ],
    [
      call("c", "book_hotel", { hotel_id: "h", check_in: "2025-01-01", filters: { max_price: 1, tags: ["a", 2] } }),
      'call[0] book_hotel: argument "filters.tags[1]": must be string',
    ],
    [call("c", "get_weather", { city: "Paris", unit: "kelvin" }), 'call[0] get_weather: argument "unit": must be one of "celsius", "fahrenheit"'],
    [call("c", "get_weather", { city: "Paris", days: 30 }), 'call[0] get_weather: argument "days": must be <= 14'],
    [call("c", "book_hotel", { hotel_id: "h", check_in: "tomorrow" }), 'call[0] book_hotel: argument "check_in": must match format "date"'],
  ];
  for (const [c, reason] of cases) {
    const v = verifyRules(sample("standard", [c]));
    assert.equal(v.ok, false, reason);
    assert.deepEqual(v.reasons, [reason]);
  }
});

test("call-level problems: unknown tool, bad JSON, non-object arguments, duplicate ids, repeated calls", () => {
  assert.deepEqual(verifyRules(sample("standard", [call("c", "send_sms", { to: "x" })])).reasons, ["call[0] send_sms: tool does not exist"]);
  const badJson = verifyRules(sample("standard", [call("c", "get_weather", '{"city": "Par')])).reasons;
  assert.equal(badJson.length, 1);
  assert.match(badJson[0] ?? "", /^call\[0\] get_weather: arguments are not valid JSON \(.+\)$/);
  assert.deepEqual(verifyRules(sample("standard", [call("c", "get_weather", "[1]")])).reasons, [
    "call[0] get_weather: arguments must be a JSON object (found an array)",
  ]);
  const dup = verifyRules(sample("parallel", [call("same", "get_weather", { city: "A" }), call("same", "get_weather", { city: "B" })]));
  assert.deepEqual(dup.reasons, ['call[1] get_weather: tool_call id "same" already used by call[0]']);
  const repeated = verifyRules(sample("parallel", [call("a", "get_weather", { city: "A", days: 1 }), call("b", "get_weather", { days: 1, city: "A" })]));
  assert.deepEqual(repeated.reasons, ["call[1] get_weather: repeats call[0] with the same arguments"]);
  const noId = verifyRules(sample("standard", [{ id: "", type: "function", function: { name: "get_weather", arguments: '{"city":"A"}' } }]));
  assert.deepEqual(noId.reasons, ["call[0] get_weather: missing tool_call id"]);
});

test("call counts per kind", () => {
  assert.deepEqual(verifyRules(sample("irrelevance", [call("c", "get_weather", { city: "A" })])).reasons, [
    "irrelevance sample must not call a tool (called get_weather)",
  ]);
  assert.deepEqual(verifyRules(sample("standard", [])).reasons, ["standard sample must contain exactly one call (found 0)"]);
  assert.deepEqual(verifyRules(sample("standard", [call("a", "get_weather", { city: "A" }), call("b", "get_weather", { city: "B" })])).reasons, [
    "standard sample must contain exactly one call (found 2)",
  ]);
  assert.deepEqual(verifyRules(sample("parallel", [call("a", "get_weather", { city: "A" })])).reasons, [
    "parallel sample must contain at least two calls (found 1)",
  ]);
});

test("structural problems", () => {
  const c = call("c1", "get_weather", { city: "A" });
  const reasons = (messages: ChatMessage[], kind: SampleKind = "standard") => verifyRules(sample(kind, [c], { messages })).reasons;
  assert.deepEqual(
    reasons([
      { role: "user", content: "hi" },
      { role: "assistant", content: null, tool_calls: [c] },
      { role: "tool", tool_call_id: "c1", content: "{}" },
    ]),
    ["last message must be an assistant message (found tool)"],
  );
  assert.deepEqual(
    reasons([
      { role: "user", content: "  " },
      { role: "assistant", content: null, tool_calls: [c] },
    ]),
    ["messages[0]: user message is empty"],
  );
  assert.deepEqual(
    reasons([
      { role: "user", content: "hi" },
      { role: "system", content: "late" },
      { role: "user", content: "hi" },
      { role: "assistant", content: null, tool_calls: [c] },
    ]),
    ["messages[1]: a system message may only come first"],
  );
  assert.deepEqual(
    reasons([
      { role: "system", content: "s" },
      { role: "assistant", content: null, tool_calls: [c] },
    ]),
    ["messages[1]: assistant message before any user message", "messages: no user message"],
  );
  assert.deepEqual(
    reasons(
      [
        { role: "user", content: "hi" },
        { role: "assistant", content: "" },
      ],
      "irrelevance",
    ),
    ["messages[1]: assistant message has neither content nor tool calls"],
  );
  assert.deepEqual(
    reasons([
      { role: "user", content: "hi" },
      { role: "assistant", content: null, tool_calls: [c] },
      { role: "tool", tool_call_id: "zz", content: "{}" },
      { role: "assistant", content: "done" },
    ]),
    [
      'messages[2]: tool_call_id "zz" does not answer a pending call of the previous assistant message',
      'messages[1]: tool call "c1" never answered by a tool message',
    ],
  );
  assert.deepEqual(verifyRules({ kind: "standard", messages: [], tools }).reasons, [
    "messages: must contain at least one message",
    "standard sample must contain exactly one call (found 0)",
  ]);
  assert.deepEqual(
    verifyRules({
      kind: "standard",
      messages: [
        { role: "user", content: "x" },
        { role: "robot", content: "y" } as unknown as ChatMessage,
        { role: "assistant", content: null, tool_calls: [c] },
      ],
      tools,
    }).reasons,
    ['messages[1]: unknown role "robot"'],
  );
});

test("every reason is collected, not just the first", () => {
  const v = verifyRules(
    sample("parallel", [call("x", "get_weather", { days: "3", unit: "kelvin", extra: true })], {
      messages: [
        { role: "user", content: "" },
        { role: "assistant", content: null, tool_calls: [call("x", "get_weather", { days: "3", unit: "kelvin", extra: true })] },
        { role: "tool", tool_call_id: "x", content: "{}" },
      ],
    }),
  );
  assert.equal(v.ok, false);
  assert.deepEqual(v.reasons, [
    "messages[0]: user message is empty",
    "last message must be an assistant message (found tool)",
    "parallel sample must contain at least two calls (found 1)",
    'call[0] get_weather: missing required argument "city"',
    'call[0] get_weather: unknown argument "extra"',
    'call[0] get_weather: argument "days": must be integer',
    'call[0] get_weather: argument "unit": must be one of "celsius", "fahrenheit"',
  ]);
});

test("compiled validators are cached by tool content and reused across samples", () => {
  for (let i = 0; i < 50; i++) verifyRules(sample("standard", [call(`c${i}`, "get_weather", { city: `City ${i}` })]));
  // A structurally equal copy (different object, other key order) hits the same entry.
  const copy: McpTool = JSON.parse(JSON.stringify({ inputSchema: weather.inputSchema, description: weather.description, name: weather.name })) as McpTool;
  verifyRules(sample("standard", [call("c", "get_weather", { city: "X" })], { tools: [copy, hotel] }));
  assert.deepEqual(validatorCacheStats(), { size: 1, hits: 50, misses: 1 });
  verifyRules(sample("standard", [call("c", "book_hotel", { hotel_id: "h", check_in: "2025-01-01" })]));
  assert.equal(validatorCacheStats().size, 2);
});

test("a call to every example tool with its required arguments passes", () => {
  const exampleTools = EXAMPLE_TOOLS.map((e) => e.tool);
  const valueFor = (schema: Record<string, unknown>): unknown => {
    if (schema.enum) return (schema.enum as unknown[])[0];
    switch (schema.type) {
      case "integer":
        return (schema.minimum as number | undefined) ?? 1;
      case "number":
        return 10;
      case "boolean":
        return true;
      case "array":
        return [valueFor(schema.items as Record<string, unknown>)];
      case "object": {
        const props = schema.properties as Record<string, Record<string, unknown>>;
        return Object.fromEntries(((schema.required as string[] | undefined) ?? []).map((r) => [r, valueFor(props[r] ?? {})]));
      }
      default:
        if (schema.format === "date") return "2025-05-01";
        if (schema.format === "email") return "a@example.com";
        if (schema.pattern === "^[A-Z]{3}$") return "USD";
        if (typeof schema.pattern === "string" && schema.pattern.includes("/")) return "owner/repo";
        if (typeof schema.pattern === "string") return "09:30";
        return "text";
    }
  };
  for (const t of exampleTools) {
    const args = valueFor(t.inputSchema);
    const v = verifyRules(sample("standard", [call("c", t.name, args)], { tools: exampleTools }));
    assert.deepEqual(v.reasons, [], `${t.name} ${JSON.stringify(args)}`);
  }
});

test("arguments nested past the limit are one reason naming the path, never a RangeError", () => {
  const deepArgs = '{"city":"Paris","extra":' + "[".repeat(10_000) + "]".repeat(10_000) + "}";
  const v = verifyRules(sample("standard", [call("c1", "get_weather", deepArgs)]));
  assert.equal(v.ok, false);
  assert.equal(v.reasons.length, 1);
  assert.match(v.reasons[0] as string, /^call\[0\] get_weather: arguments nest deeper than 64 levels at extra(\[0\])+… \(64 levels\)$/);
  // At the limit itself the arguments are judged normally.
  const fine = '{"city":"Paris","extra":' + "[".repeat(62) + "]".repeat(62) + "}";
  assert.deepEqual(verifyRules(sample("standard", [call("c1", "get_weather", fine)])).reasons, ['call[0] get_weather: unknown argument "extra"']);
});

test("an offered tool nested past the limit is a reason, and the other tools are still checked", () => {
  const deepSchema = JSON.parse(
    '{"type":"object","properties":{"a":' + '{"type":"object","properties":{"a":'.repeat(3000) + "{}" + "}}".repeat(3000) + "}}",
  ) as McpTool["inputSchema"];
  const deepTool: McpTool = { name: "deep_tool", description: "Deep.", inputSchema: deepSchema };
  const v = verifyRules(sample("standard", [call("c1", "get_weather", { city: "Paris" })], { tools: [weather, deepTool] }));
  assert.equal(v.reasons.length, 1);
  assert.match(v.reasons[0] as string, /^tools\[1\] "deep_tool": nests deeper than 160 levels at tools\[1\]\.inputSchema\.properties\.a\.properties/);
});

test("multi_turn: the whole dialogue must be well formed; call rules apply to the label (last message) only", () => {
  const dialogue = (label: ChatMessage): ChatMessage[] => [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Weather in Paris for 3 days?" },
    // An earlier (rejected-then-continued) turn with an argument the schema forbids: context, not the label.
    { role: "assistant", content: null, tool_calls: [call("c1", "get_weather", { city: "Paris", days: 99 })] },
    { role: "tool", tool_call_id: "c1", content: '{"error":{"type":"invalid_call","message":"days out of range"}}' },
    { role: "assistant", content: null, tool_calls: [call("c2", "get_weather", { city: "Paris", days: 3 })] },
    { role: "tool", tool_call_id: "c2", content: '{"forecast":["sun","sun","rain"]}' },
    { role: "assistant", content: "Sun for two days, then rain." },
    { role: "user", content: "And again, the same for Paris, 3 days?" },
    label,
  ];
  const ok = (label: ChatMessage) => verifyRules({ kind: "multi_turn", messages: dialogue(label), tools });
  // The same call again in a later turn is not a repeat within the label.
  assert.deepEqual(ok({ role: "assistant", content: null, tool_calls: [call("c3", "get_weather", { city: "Paris", days: 3 })] }).reasons, []);
  assert.deepEqual(ok({ role: "assistant", content: "Which unit would you like?" }).reasons, [], "a text label (a question) is a label");
  assert.deepEqual(ok({ role: "assistant", content: null, tool_calls: [call("c3", "get_weather", { city: "Paris", days: 30 })] }).reasons, [
    'call[2] get_weather: argument "days": must be <= 14',
  ]);
  // Structure is checked across the dialogue: a prompt that ends on a tool message needs an assistant label.
  const broken = verifyRules({ kind: "multi_turn", messages: dialogue({ role: "assistant", content: "x" }).slice(0, 4), tools });
  assert.deepEqual(broken.reasons, ["last message must be an assistant message (found tool)"]);
});
