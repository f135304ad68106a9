/** A small tool library for the simulator's multi-turn tests: lookups, a catalogue search, and items created then read back. */
import type { McpTool } from "../../src/domain/types.js";

export const DIALOGUE_TOOLS: McpTool[] = [
  {
    name: "get_weather",
    description: "Get the current weather for a city.",
    inputSchema: { type: "object", properties: { city: { type: "string" }, days: { type: "integer", minimum: 1, maximum: 7 } }, required: ["city"] },
  },
  {
    name: "search_products",
    description: "Search the product catalogue for items matching a query.",
    inputSchema: {
      type: "object",
      properties: { query: { type: "string" }, max_results: { type: "integer", minimum: 1, maximum: 20 } },
      required: ["query"],
    },
  },
  {
    name: "create_order",
    description: "Create an order for a product.",
    inputSchema: {
      type: "object",
      properties: { product_id: { type: "string" }, quantity: { type: "integer", minimum: 1, maximum: 10 } },
      required: ["product_id", "quantity"],
      additionalProperties: false,
    },
  },
  {
    name: "get_order_status",
    description: "Get the status of an existing order.",
    inputSchema: { type: "object", properties: { order_id: { type: "string" } }, required: ["order_id"], additionalProperties: false },
    outputSchema: {
      type: "object",
      properties: { order_id: { type: "string" }, status: { type: "string", enum: ["pending", "shipped", "delivered"] }, eta_days: { type: "integer" } },
      required: ["order_id", "status"],
    },
  },
  {
    name: "get_stock_price",
    description: "Get the latest price of a stock.",
    inputSchema: {
      type: "object",
      properties: { symbol: { type: "string" }, exchange: { type: "string", enum: ["NYSE", "NASDAQ"] } },
      required: ["symbol"],
    },
  },
];
