/**
 * The strict OpenAI chat fine-tuning row: exactly what OpenAI's fine-tuning upload documents for chat
 * models with tools (https://platform.openai.com/docs/guides/supervised-fine-tuning, "function
 * calling" examples): top-level `messages` and `tools` only; messages with `role`, `content`,
 * `tool_calls` (assistant) and `tool_call_id` (tool); tool calls with `id`, `type`, `function{name,
 * arguments}`; tools with `type`, `function{name, description, parameters}`. Strict uploaders reject
 * any other key, so ids, kinds and metadata stay in the manifest and the normal format.
 *
 * `parallel_tool_calls` is left out: it is a per-row training switch (false teaches one call per turn),
 * and our parallel samples need the default (true).
 */
import type { ChatMessage, McpTool, ToolCall } from "../domain/types.js";
import { toOpenAiTool } from "../domain/types.js";
import { createAjv, type ErrorObject, type ValidateFunction } from "../jsonSchema/ajv.js";

export const STRICT_DATASET_FORMAT = "openai-chat-strict/v1";

export type StrictMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content?: string; tool_calls?: ToolCall[]; weight?: 0 }
  | { role: "tool"; tool_call_id: string; content: string };

export interface StrictTool {
  type: "function";
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface StrictLine {
  messages: StrictMessage[];
  tools?: StrictTool[];
}

/**
 * OpenAI's function names: letters, digits, `_` and `-`, at most 64 (its API answers 400 otherwise).
 * MCP allows more (dots, up to 128 characters), so a library tool like `weather.lookup` cannot be a
 * strict row: the export fails naming the sample rather than writing a file the upload refuses.
 */
const OPENAI_FUNCTION_NAME = { type: "string", pattern: "^[a-zA-Z0-9_-]{1,64}$" } as const;

/** JSON Schema of one strict row: every object closed (additionalProperties false). */
export const STRICT_ROW_SCHEMA = {
  $id: "toolloop:openai-chat-strict-row",
  type: "object",
  additionalProperties: false,
  required: ["messages"],
  properties: {
    messages: {
      type: "array",
      minItems: 1,
      items: {
        oneOf: [
          {
            type: "object",
            additionalProperties: false,
            required: ["role", "content"],
            properties: { role: { enum: ["system", "user"] }, content: { type: "string" } },
          },
          {
            type: "object",
            additionalProperties: false,
            required: ["role"],
            anyOf: [{ required: ["content"] }, { required: ["tool_calls"] }],
            properties: {
              role: { const: "assistant" },
              content: { type: "string" },
              /** OpenAI's per-message switch: 0 leaves the turn out of the loss (a prompt turn of a multi-turn row). */
              weight: { enum: [0, 1] },
              tool_calls: {
                type: "array",
                minItems: 1,
                items: {
                  type: "object",
                  additionalProperties: false,
                  required: ["id", "type", "function"],
                  properties: {
                    id: { type: "string", minLength: 1 },
                    type: { const: "function" },
                    function: {
                      type: "object",
                      additionalProperties: false,
                      required: ["name", "arguments"],
                      properties: { name: OPENAI_FUNCTION_NAME, arguments: { type: "string" } },
                    },
                  },
                },
              },
            },
          },
          {
            type: "object",
            additionalProperties: false,
            required: ["role", "tool_call_id", "content"],
            properties: { role: { const: "tool" }, tool_call_id: { type: "string", minLength: 1 }, content: { type: "string" } },
          },
        ],
      },
    },
    tools: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["type", "function"],
        properties: {
          type: { const: "function" },
          function: {
            type: "object",
            additionalProperties: false,
            required: ["name"],
            properties: { name: OPENAI_FUNCTION_NAME, description: { type: "string" }, parameters: { type: "object" } },
          },
        },
      },
    },
  },
} as const;

let validator: ValidateFunction | undefined;

/** The compiled row schema (one per process). */
export function strictRowValidator(): ValidateFunction {
  validator ??= createAjv().compile(STRICT_ROW_SCHEMA);
  return validator;
}

/**
 * Only the documented fields of each message; an assistant turn without text carries no `content` key.
 * Assistant turns before the label (`labelIndex`, default the last message) get `weight: 0`: OpenAI
 * trains on every assistant message of a row unless told otherwise, and those are prompt.
 */
export function toStrictLine(messages: ChatMessage[], tools: McpTool[], labelIndex = messages.length - 1): StrictLine {
  const out: StrictMessage[] = messages.map((m, i): StrictMessage => {
    switch (m.role) {
      case "system":
      case "user":
        return { role: m.role, content: m.content };
      case "tool":
        return { role: "tool", tool_call_id: m.tool_call_id, content: m.content };
      case "assistant": {
        const calls = (m.tool_calls ?? []).map((c) => ({
          id: c.id,
          type: "function" as const,
          function: { name: c.function.name, arguments: c.function.arguments },
        }));
        return {
          role: "assistant",
          ...(m.content !== null && m.content !== undefined ? { content: m.content } : calls.length === 0 ? { content: "" } : {}),
          ...(calls.length > 0 ? { tool_calls: calls } : {}),
          ...(i < labelIndex ? { weight: 0 as const } : {}),
        };
      }
    }
  });
  const line: StrictLine = { messages: out };
  if (tools.length > 0)
    line.tools = tools.map(toOpenAiTool).map((t) => ({
      type: "function",
      function: {
        name: t.function.name,
        ...(t.function.description !== undefined ? { description: t.function.description } : {}),
        ...(t.function.parameters !== undefined ? { parameters: t.function.parameters } : {}),
      },
    }));
  return line;
}

/** The first schema problems of a strict line, as "<path>: <message>" (empty when it is valid). */
export function strictLineProblems(line: unknown): string[] {
  const validate = strictRowValidator();
  if (validate(line)) return [];
  return (validate.errors ?? []).slice(0, 5).map((e: ErrorObject) => `${e.instancePath || "/"}: ${e.message ?? "invalid"}`);
}
