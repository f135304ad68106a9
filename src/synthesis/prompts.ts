/**
 * Prompts for single-turn synthesis (InfTool: standard, parallel, irrelevance).
 *
 * Protocol shared with the scripted simulator (src/llm/simulator/scripts.ts), which a real model
 * simply reads as instructions:
 * - The user-query writer's system prompt contains the line `### task: user-query`.
 * - Its user message contains the line `kind: <standard|parallel|irrelevance>` and one ```json
 *   fenced block with an array of OpenAI tools: for standard/parallel the intended calls in order
 *   (a tool repeats when it should be called several times), for irrelevance the tools the request
 *   must NOT be answerable by.
 * - The reply is a JSON object `{"query": string}` (response_format json_schema "user_query").
 * Changing any of this text changes every synthesized sample: bump PROMPT_VERSION.
 */
import { stringifyJson } from "../jsonSchema/exactNumbers.js";
import type { McpTool, OpenAiTool, SingleTurnKind } from "../domain/types.js";
import { toOpenAiTool } from "../domain/types.js";

export const PROMPT_VERSION = "single-turn/v1";

export const USER_QUERY_SYSTEM_PROMPT = [
  "You write realistic requests that a person would type to an AI assistant that can call tools.",
  "### task: user-query",
  "Write in the user's voice, in one message, without mentioning tools, functions or JSON.",
  "Give every value the tools need concretely in the text (names, places, dates, numbers), so the assistant never has to guess.",
  'Reply with only a JSON object of the form {"query": "<the request>"}.',
].join("\n");

const KIND_INSTRUCTIONS: Record<SingleTurnKind, string> = {
  standard: "Write one request that is served by exactly one call of the tool below. Mention a value for every required parameter, and for some optional ones.",
  parallel:
    "Write one request that needs all of the calls below, made independently of each other (one call per entry; a repeated tool means the same tool with different values). Mention a value for every required parameter of every call.",
  irrelevance:
    "Write one natural request on an everyday topic that none of the tools below can serve, not even partly. It must not ask for anything these tools do.",
};

export const USER_QUERY_RESPONSE_SCHEMA: Record<string, unknown> = {
  type: "object",
  properties: { query: { type: "string", minLength: 1 } },
  required: ["query"],
  additionalProperties: false,
};

/**
 * The tools' OpenAI form and its pretty-printed JSON, made once per tool: a batch puts the same few
 * library tools into hundreds of prompts and requests. Keyed by object identity, so only for tools
 * nobody mutates while it lives (a batch's library, read from the database for that batch).
 */
export class ToolRenderCache {
  private readonly openAi = new WeakMap<McpTool, OpenAiTool>();
  private readonly pretty = new WeakMap<McpTool, string>();

  openAiTool(tool: McpTool): OpenAiTool {
    let t = this.openAi.get(tool);
    if (t === undefined) {
      t = toOpenAiTool(tool);
      this.openAi.set(tool, t);
    }
    return t;
  }

  /** Byte-identical to JSON.stringify(tools.map(toOpenAiTool), null, 2). */
  prettyJsonArray(tools: readonly McpTool[]): string {
    if (tools.length === 0) return "[]";
    let out = "[";
    for (let i = 0; i < tools.length; i++) out += (i > 0 ? ",\n  " : "\n  ") + this.prettyElement(tools[i]!);
    return out + "\n]";
  }

  /** The tool as an element of a pretty-printed array: one level deeper, so every line indented by two more spaces. */
  private prettyElement(tool: McpTool): string {
    let text = this.pretty.get(tool);
    if (text === undefined) {
      // JSON strings hold no raw newlines, so every newline is a line break of the layout.
      text = stringifyJson(this.openAiTool(tool), 2).replaceAll("\n", "\n  ");
      this.pretty.set(tool, text);
    }
    return text;
  }
}

export function buildUserQueryPrompt(
  kind: SingleTurnKind,
  targets: readonly McpTool[],
  offered: readonly McpTool[],
  cache: ToolRenderCache = new ToolRenderCache(),
): string {
  const block = (tools: readonly McpTool[]) => ["```json", cache.prettyJsonArray(tools), "```"];
  if (kind === "irrelevance")
    return [`kind: ${kind}`, KIND_INSTRUCTIONS[kind], "", "Tools the request must not be answerable by:", ...block(offered)].join("\n");
  const targetNames = new Set(targets.map((t) => t.name));
  const others = offered.filter((t) => !targetNames.has(t.name));
  const lines = [
    `kind: ${kind}`,
    KIND_INSTRUCTIONS[kind],
    "",
    kind === "parallel" ? "Calls the request needs (in order):" : "The tool the request needs:",
    ...block(targets),
  ];
  // The other tools the assistant will see: context for a request that is unambiguous among them.
  if (others.length > 0) lines.push("", `The assistant also sees these tools; the request must not need them: ${others.map((t) => t.name).join(", ")}.`);
  return lines.join("\n");
}

export const ASSISTANT_SYSTEM_PROMPT = [
  "You are a helpful assistant that can call tools.",
  "When the user's request can be served by the available tools, call them with arguments taken exactly from the request; make several calls at once when the request asks for several independent things.",
  "Never invent a tool or a parameter. When no tool fits the request, do not call any tool: say briefly that you cannot help with it using the available tools.",
].join(" ");
