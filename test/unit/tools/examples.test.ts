import assert from "node:assert/strict";
import { test } from "node:test";
import { EXAMPLE_TOOLS } from "../../../src/tools/examples.js";
import { normalizeTools } from "../../../src/tools/library.js";

test("every example tool passes the library's validation unchanged", () => {
  const r = normalizeTools(
    EXAMPLE_TOOLS.map((e) => e.tool),
    "example",
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.tools.map((t) => t.tool),
    EXAMPLE_TOOLS.map((e) => e.tool),
  );
});

test("at least 30 tools over at least 7 domains, with unique snake_case names", () => {
  assert.ok(EXAMPLE_TOOLS.length >= 30, `${EXAMPLE_TOOLS.length} tools`);
  const domains = new Set(EXAMPLE_TOOLS.map((e) => e.domain));
  assert.ok(domains.size >= 7, `${domains.size} domains`);
  const names = EXAMPLE_TOOLS.map((e) => e.tool.name);
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.match(n, /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/);
});

test("descriptions open with a sentence and schemas cover the kinds of parameters synthesis needs", () => {
  const json = JSON.stringify(EXAMPLE_TOOLS);
  for (const { tool } of EXAMPLE_TOOLS) assert.match(tool.description, /^[A-Z][^.]{10,}\./, tool.name);
  for (const needle of [
    '"type":"integer"',
    '"minimum"',
    '"maximum"',
    '"type":"number"',
    '"enum"',
    '"type":"boolean"',
    '"format":"date"',
    '"format":"email"',
    '"items":{"type":"string"}',
  ]) {
    assert.ok(json.includes(needle), `some example uses ${needle}`);
  }
  const nestedObjects = EXAMPLE_TOOLS.filter(({ tool }) =>
    Object.values(tool.inputSchema.properties as Record<string, { type?: string }>).some((p) => p.type === "object"),
  );
  assert.ok(nestedObjects.length >= 2);
  for (const { tool } of EXAMPLE_TOOLS) {
    const required = tool.inputSchema.required as string[];
    assert.ok(required.length > 0 && required.length < Object.keys(tool.inputSchema.properties as object).length + 1, tool.name);
  }
});

test("near-namesake distractors exist within a domain", () => {
  const names = new Set(EXAMPLE_TOOLS.map((e) => e.tool.name));
  for (const [a, b] of [
    ["get_current_weather", "get_weather_forecast"],
    ["search_flights", "book_flight"],
    ["search_hotels", "book_hotel"],
    ["get_stock_price", "get_stock_history"],
  ]) {
    assert.ok(names.has(a as string) && names.has(b as string), `${a} / ${b}`);
  }
});
