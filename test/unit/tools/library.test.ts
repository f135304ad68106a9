import assert from "node:assert/strict";
import { EXACT_NUMBERS_KEY, stringifyJson, withExactNumbers } from "../../../src/jsonSchema/exactNumbers.js";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { toolHash } from "../../../src/tools/hash.js";
import { loadToolLibrary, loadToolSource, normalizeTools, TOOL_FILE_MAX_BYTES } from "../../../src/tools/library.js";

// Compiled to dist/test/unit/tools/: the fixtures stay in the source tree.
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const FIXTURES = path.join(REPO_ROOT, "test", "fixtures", "tools");

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "toolloop-tools-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const weatherSchema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] } as const;

test("MCP tools/list result, JSON-RPC response and bare MCP array normalise to the same tools", () => {
  const mcpTool = { name: "get_weather", description: "Weather now.", inputSchema: weatherSchema, annotations: { readOnlyHint: true } };
  const fromResult = normalizeTools({ tools: [mcpTool] }, "a");
  const fromRpc = normalizeTools({ jsonrpc: "2.0", id: 7, result: { tools: [mcpTool] } }, "a");
  const fromArray = normalizeTools([mcpTool], "a");
  for (const r of [fromResult, fromRpc, fromArray]) {
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.tools, [{ tool: mcpTool, source: "a" }]);
  }
});

test("OpenAI tools, the {tools} wrapper and bare function objects normalise to MCP tools", () => {
  const fn = { name: "get_weather", description: "Weather now.", parameters: weatherSchema };
  const expected = [{ tool: { name: "get_weather", description: "Weather now.", inputSchema: weatherSchema }, source: "o" }];
  assert.deepEqual(normalizeTools([{ type: "function", function: fn }], "o"), { tools: expected, errors: [] });
  assert.deepEqual(normalizeTools({ tools: [{ type: "function", function: fn }] }, "o"), { tools: expected, errors: [] });
  assert.deepEqual(normalizeTools(fn, "o"), { tools: expected, errors: [] });
  assert.deepEqual(normalizeTools([fn], "o"), { tools: expected, errors: [] });
});

test("missing parameters become the empty object schema; a schema without type gets type object", () => {
  const r = normalizeTools(
    [
      { name: "ping", description: "Ping." },
      { name: "find", description: "Find.", parameters: { properties: { q: { type: "string" } } } },
    ],
    "s",
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.tools[0]?.tool.inputSchema, { type: "object", properties: {} });
  assert.deepEqual(r.tools[1]?.tool.inputSchema, { type: "object", properties: { q: { type: "string" } } });
});

test("one file may mix shapes; each entry is detected on its own", () => {
  const r = normalizeTools(
    [
      { name: "a", description: "A.", inputSchema: { type: "object", properties: {} } },
      { type: "function", function: { name: "b", description: "B.", parameters: { type: "object", properties: {} } } },
      { name: "c", description: "C.", parameters: { type: "object", properties: {} } },
    ],
    "mixed",
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.tools.map((t) => t.tool.name),
    ["a", "b", "c"],
  );
});

test("fixture: JSON-RPC tools/list response loads with outputSchema and annotations kept", async () => {
  const r = await loadToolSource({ kind: "mcp", path: "mcp-tools-list.json" }, FIXTURES);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.tools.map((t) => t.tool.name),
    ["get_weather", "create_ticket", "list_files"],
  );
  assert.ok(r.tools.every((t) => t.source === "mcp-tools-list.json"));
  const weather = r.tools[0]?.tool;
  assert.deepEqual(weather?.annotations, { readOnlyHint: true });
  assert.equal((weather?.outputSchema as { type?: string } | undefined)?.type, "object");
  assert.ok(!("title" in (weather ?? {})), "fields outside McpTool are not carried");
});

test("fixture: OpenAI tools file loads, including a function without parameters", async () => {
  const r = await loadToolSource({ kind: "openai", path: path.join(FIXTURES, "openai-tools.json") }, "/ignored-for-absolute-paths");
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.tools.map((t) => t.tool.name),
    ["get_exchange_rate", "get_time", "search_docs"],
  );
  assert.deepEqual(r.tools[1]?.tool.inputSchema, { type: "object", properties: {} });
  assert.equal(r.tools[2]?.tool.inputSchema.type, "object");
});

test("fixture: invalid tools are rejected with exact messages while the good ones load", async () => {
  const r = await loadToolSource({ kind: "mcp", path: "invalid-mixed.json" }, FIXTURES);
  assert.deepEqual(
    r.tools.map((t) => t.tool.name),
    ["lookup_word", "translate_text", "ping"],
  );
  const byIndex = new Map(r.errors.map((e) => [e.index, e]));
  const expected: [number, string | undefined, string][] = [
    [1, "inputSchema.properties.days.type", 'tools[1] "get_weather": inputSchema.properties.days.type: "integr" is not a JSON Schema type'],
    [2, "description", 'tools[2] "no_description": description: missing (the model picks tools by their description)'],
    [3, "name", 'tools[3] "send sms!": name: "send sms!" must be 1-64 characters of letters, digits, "_", "." or "-"'],
    [4, "inputSchema.required", 'tools[4] "book_table": inputSchema.required: "party_size" is not in properties'],
    [6, undefined, "tools[6]: must be a tool object (found number)"],
    [7, "inputSchema.type", 'tools[7] "list_items": inputSchema.type: must be "object" (found "array")'],
    [8, "name", 'tools[8] "lookup_word": duplicate name (first defined as tools[0] in invalid-mixed.json; this one is skipped)'],
    [
      11,
      "function.parameters.properties.filters.properties.max_price.type",
      'tools[11] "bad_nested": function.parameters.properties.filters.properties.max_price.type: "float" is not a JSON Schema type',
    ],
  ];
  for (const [index, field, message] of expected) {
    const e = byIndex.get(index);
    assert.ok(e, `an error for tools[${index}]`);
    assert.equal(e.message, message);
    assert.equal(e.field, field);
    assert.equal(e.source, "invalid-mixed.json");
  }
  const regex = byIndex.get(10);
  assert.equal(regex?.field, "inputSchema");
  assert.match(regex?.message ?? "", /^tools\[10\] "match_code": inputSchema: does not compile: Invalid regular expression/);
  assert.equal(r.errors.length, expected.length + 1);
});

test("every issue of one tool is reported in its single error", () => {
  const r = normalizeTools([{ name: "x", description: "", inputSchema: { type: "object", properties: { a: { type: "strng" } }, required: ["b"] } }], "s");
  assert.equal(r.tools.length, 0);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]?.field, "description");
  assert.equal(
    r.errors[0]?.message,
    'tools[0] "x": description: must not be empty; inputSchema.required: "b" is not in properties; inputSchema.properties.a.type: "strng" is not a JSON Schema type',
  );
});

test("other schema problems name their path", () => {
  const bad = (inputSchema: unknown) => normalizeTools([{ name: "t", description: "T.", inputSchema }], "s").errors[0]?.message;
  assert.equal(bad("nope"), 'tools[0] "t": inputSchema: must be a JSON Schema object (found "nope")');
  assert.equal(
    bad({ type: "object", properties: { a: { type: "array", items: [{ type: "string" }] } } }),
    'tools[0] "t": inputSchema.properties.a.items: must be a single schema (tuple validation is `prefixItems` in JSON Schema 2020-12)',
  );
  assert.equal(
    bad({ type: "object", properties: { a: { type: "string", minLength: "3" } } }),
    'tools[0] "t": inputSchema.properties.a.minLength: must be integer',
  );
  assert.equal(
    bad({ type: "object", properties: { a: { $ref: "#/$defs/missing" } } }),
    'tools[0] "t": inputSchema: does not compile: can\'t resolve reference #/$defs/missing from id #',
  );
  assert.equal(bad({ type: "object", properties: { a: { enum: [] } } }), 'tools[0] "t": inputSchema.properties.a.enum: must be a non-empty list');
});

test("unrecognised file shapes and JSON-RPC errors are one error for the source", () => {
  assert.deepEqual(normalizeTools({ jsonrpc: "2.0", id: 1, error: { code: -32601, message: "Method not found" } }, "f").errors, [
    { source: "f", index: -1, message: "JSON-RPC error response: Method not found" },
  ]);
  assert.match(normalizeTools({ foo: 1 }, "f").errors[0]?.message ?? "", /^expected a tool list/);
  assert.equal(normalizeTools({ tools: {} }, "f").errors[0]?.message, '"tools" must be a list');
  assert.match(normalizeTools(null, "f").errors[0]?.message ?? "", /found null/);
});

test("an empty tool list, in any shape, is one error for the source: it lists no tools", async () => {
  const empty = { source: "f", index: -1, message: "lists no tools" };
  for (const json of [[], { tools: [] }, { functions: [] }, { jsonrpc: "2.0", id: 1, result: { tools: [] } }])
    assert.deepEqual(normalizeTools(json, "f"), { tools: [], errors: [empty] }, JSON.stringify(json));
  // Beside a source with tools, the others still load and the empty one is named.
  await writeFile(path.join(tmp, "empty.json"), "[]");
  const r = await loadToolLibrary([{ kind: "example" }, { kind: "mcp", path: "empty.json" }], tmp);
  assert.ok(r.tools.length > 0);
  assert.deepEqual(r.errors, [{ ...empty, source: "empty.json" }]);
});

test("library: duplicate names across sources keep the first and name both sources", async () => {
  const file = path.join(tmp, "dup.json");
  await writeFile(
    file,
    JSON.stringify([
      { name: "get_current_weather", description: "Shadowed.", inputSchema: { type: "object", properties: {} } },
      { name: "fresh_tool", description: "New.", inputSchema: { type: "object", properties: {} } },
    ]),
  );
  const r = await loadToolLibrary([{ kind: "example" }, { kind: "mcp", path: "dup.json" }], tmp);
  assert.equal(r.errors.length, 1);
  assert.deepEqual(r.errors[0], {
    source: "dup.json",
    index: 0,
    name: "get_current_weather",
    field: "name",
    message: 'tools[0] "get_current_weather": duplicate name, already loaded from example; the one from dup.json is skipped',
  });
  const weather = r.tools.filter((t) => t.tool.name === "get_current_weather");
  assert.equal(weather.length, 1);
  assert.equal(weather[0]?.source, "example");
  assert.equal(weather[0]?.domain, "weather");
  assert.ok(r.tools.some((t) => t.tool.name === "fresh_tool" && t.source === "dup.json"));
});

test("library: a missing file or bad JSON is one error naming the file; other sources still load", async () => {
  await writeFile(path.join(tmp, "broken.json"), '{\n  "tools": [\n    {"name": "a",}\n  ]\n}\n');
  const r = await loadToolLibrary(
    [
      { kind: "openai", path: "does-not-exist.json" },
      { kind: "mcp", path: "broken.json" },
      { kind: "openai", path: path.join(FIXTURES, "openai-tools.json") },
    ],
    tmp,
  );
  assert.equal(r.tools.length, 3);
  assert.equal(r.errors.length, 2);
  assert.deepEqual(r.errors[0], {
    source: "does-not-exist.json",
    index: -1,
    message: `openai tool file: file not found: ${path.join(tmp, "does-not-exist.json")}`,
  });
  assert.equal(r.errors[1]?.source, "broken.json");
  assert.equal(r.errors[1]?.message, `mcp tool file: ${path.join(tmp, "broken.json")}: invalid JSON at line 3 column 18: Expected double-quoted property name`);
});

test("toolHash ignores key order and changes with content", () => {
  const a = { name: "t", description: "d", inputSchema: { type: "object" as const, properties: { x: { type: "string" } } } };
  const b = { inputSchema: { properties: { x: { type: "string" } }, type: "object" as const }, description: "d", name: "t" };
  assert.equal(toolHash(a), toolHash(b));
  assert.match(toolHash(a), /^[0-9a-f]{64}$/);
  assert.notEqual(toolHash(a), toolHash({ ...a, description: "e" }));
});

test("example source returns copies: mutating a loaded tool does not change the next load", async () => {
  const first = await loadToolSource({ kind: "example" }, tmp);
  const tool = first.tools[0]?.tool;
  assert.ok(tool);
  tool.description = "changed";
  const second = await loadToolSource({ kind: "example" }, tmp);
  assert.notEqual(second.tools[0]?.tool.description, "changed");
});

test("a schema nested thousands of levels deep is refused by name and depth while the other tools load", async () => {
  const levels = 5000;
  const deep = '{"type":"object","properties":{"a":'.repeat(levels) + "{}" + "}}".repeat(levels);
  const text = `{"tools":[{"name":"ok_tool","description":"Fine.","inputSchema":{"type":"object"}},{"name":"deep_tool","description":"Deep.","inputSchema":${deep}}]}`;
  await writeFile(path.join(tmp, "deep.json"), text);
  const r = await loadToolLibrary([{ kind: "mcp", path: "deep.json" }], tmp);
  assert.deepEqual(
    r.tools.map((t) => t.tool.name),
    ["ok_tool"],
  );
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]?.name, "deep_tool");
  assert.equal(r.errors[0]?.field, "inputSchema");
  assert.match(r.errors[0]?.message ?? "", /^tools\[1\] "deep_tool": inputSchema: nests deeper than 64 levels at inputSchema(\.properties\.a){10}.*…$/);
});

test("deep values outside the subschemas (enum, default, annotations, outputSchema) are bounded too", () => {
  const deepValue = JSON.parse("[".repeat(4000) + "]".repeat(4000)) as unknown;
  const load = (extra: Record<string, unknown>, schemaExtra: Record<string, unknown> = {}) =>
    normalizeTools(
      [{ name: "t", description: "T.", inputSchema: { type: "object", properties: { x: { type: "array", ...schemaExtra } } }, ...extra }],
      "s",
    ).errors.map((e) => e.message);
  assert.match(
    load({}, { default: deepValue })[0] ?? "",
    /^tools\[0\] "t": inputSchema: holds JSON nested deeper than 160 levels at inputSchema\.properties\.x\.default\[0\]/,
  );
  assert.match(
    load({}, { enum: [deepValue] })[0] ?? "",
    /^tools\[0\] "t": inputSchema: holds JSON nested deeper than 160 levels at inputSchema\.properties\.x\.enum\[0\]\[0\]/,
  );
  assert.match(load({ annotations: { x: deepValue } })[0] ?? "", /^tools\[0\] "t": annotations: nests deeper than 160 levels at annotations\.x\[0\]/);
  assert.match(load({ outputSchema: { type: "object", default: deepValue } })[0] ?? "", /^tools\[0\] "t": outputSchema: nests deeper than 160 levels/);
  // A schema at the limit loads.
  let schema: Record<string, unknown> = { type: "string" };
  for (let i = 0; i < 63; i++) schema = { type: "object", properties: { a: schema } };
  assert.deepEqual(normalizeTools([{ name: "t", description: "T.", inputSchema: { type: "object", properties: { a: schema } } }], "s").errors, []);
});

test("a UTF-8 BOM in a tool file is stripped; an oversized file is refused by size before it is read", async () => {
  await writeFile(path.join(tmp, "bom.json"), "\uFEFF" + JSON.stringify([{ name: "bom_tool", description: "B.", inputSchema: { type: "object" } }]));
  const r = await loadToolLibrary([{ kind: "mcp", path: "bom.json" }], tmp);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.tools.map((t) => t.tool.name),
    ["bom_tool"],
  );
  assert.equal(TOOL_FILE_MAX_BYTES, 64 * 1024 * 1024);
});

test("a schema integer a double cannot hold loads with its digits recorded; one outside the schema refuses that tool, naming the field", async () => {
  // JSON.parse read 98765432109876543000 as the double written 98765432109876540000; the library then
  // refused such tools. A schema's digits are now recorded beside the double (EXACT_NUMBERS_KEY).
  const text = `{"tools": [
    {"name": "cancel_order", "description": "Cancel an order.", "inputSchema": {"type": "object", "properties": {"order_id": {"type": "integer", "enum": [1, 98765432109876543000]}}}},
    {"type": "function", "function": {"name": "refund", "description": "Refund.", "parameters": {"type": "object", "properties": {"n/m": {"type": "integer", "maximum": 12345678901234567891}}}}},
    {"name": "held", "description": "Ids up to 12345678901234567890.", "inputSchema": {"type": "object", "properties": {"id": {"type": "integer", "maximum": 12345678901234567000, "default": 3}}}},
    {"name": "shaped", "description": "Output.", "inputSchema": {"type": "object"}, "outputSchema": {"type": "object", "properties": {"id": {"maximum": 12345678901234567891}}}}
  ]}`;
  await writeFile(path.join(tmp, "big.json"), text);
  const r = await loadToolLibrary([{ kind: "mcp", path: "big.json" }], tmp);
  assert.deepEqual(
    r.errors.map((e) => [e.name, e.field, e.message]),
    [
      [
        "shaped",
        "outputSchema.properties.id.maximum",
        'tools[3] "shaped": outputSchema.properties.id.maximum: 12345678901234567891 cannot be held by a double as written outside the input schema: it would load as 12345678901234567000 (write 12345678901234567000 if that is meant, or make the value a string)',
      ],
    ],
  );
  const [cancel, refund, held] = r.tools.map((t) => t.tool);
  assert.deepEqual(cancel!.inputSchema[EXACT_NUMBERS_KEY], { "/properties/order_id/enum/1": "98765432109876543000" });
  assert.deepEqual(refund!.inputSchema[EXACT_NUMBERS_KEY], { "/properties/n~1m/maximum": "12345678901234567891" });
  assert.equal(
    stringifyJson(withExactNumbers(refund!.inputSchema)),
    '{"type":"object","properties":{"n/m":{"type":"integer","maximum":12345678901234567891}}}',
  );
  // An integer its double writes back as written loads, the tool exactly as JSON.parse reads it (same hash).
  assert.deepEqual(held, normalizeTools([(JSON.parse(text) as { tools: unknown[] }).tools[2]], "s").tools[0]!.tool);
  assert.equal(toolHash(held!), toolHash(normalizeTools(JSON.parse(text), "s").tools[2]!.tool));
});

test("tool files without such integers load exactly as JSON.parse reads them (tool hashes, and so sample ids, unchanged)", async () => {
  for (const file of ["mcp-tools-list.json", "openai-tools.json", "invalid-mixed.json"]) {
    const loaded = await loadToolSource({ kind: file.startsWith("openai") ? "openai" : "mcp", path: file }, FIXTURES);
    const asBefore = normalizeTools(JSON.parse(await readFile(path.join(FIXTURES, file), "utf8")), file);
    assert.deepEqual(loaded, asBefore, file);
  }
});
