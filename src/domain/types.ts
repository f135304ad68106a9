/** Wire shapes shared across the system (OpenAI chat format, MCP tool definitions). */
import { withExactNumbers } from "../jsonSchema/exactNumbers.js";

export type JsonSchema = Record<string, unknown>;

/** MCP `tools/list` entry: the normal form of every tool in the library. */
export interface McpTool {
  name: string;
  description: string;
  inputSchema: JsonSchema & { type: "object" };
  outputSchema?: JsonSchema;
  annotations?: Record<string, unknown>;
}

/** OpenAI `tools[]` entry. */
export interface OpenAiTool {
  type: "function";
  function: { name: string; description?: string; parameters?: JsonSchema };
}

export interface ToolCall {
  id: string;
  type: "function";
  /** `arguments` is a JSON string, as on the wire. */
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string | null; tool_calls?: ToolCall[] }
  | { role: "tool"; tool_call_id: string; content: string };

/** multi_turn: an assistant turn of a role-played dialogue, with the dialogue up to it as its prompt. */
export type SingleTurnKind = "standard" | "parallel" | "irrelevance";
export type SampleKind = SingleTurnKind | "multi_turn";
/** pending until a verifier has judged it; verified once every verdict is ok, rejected otherwise. */
/** `duplicate`: an exact duplicate of another sample of its iteration (dedupe.exact keeps one of each). */
export const SAMPLE_STATUSES = ["pending", "verified", "rejected", "duplicate"] as const;
export type SampleStatus = (typeof SAMPLE_STATUSES)[number];

/** One verifier's judgement on a sample, with every reason for a rejection. */
export interface Verdict {
  verifier: string;
  ok: boolean;
  reasons: string[];
}

/** The tool as OpenAI offers it; its schema's exact integers (EXACT_NUMBERS_KEY) as bigints in place, for stringifyJson. */
export function toOpenAiTool(t: McpTool): OpenAiTool {
  return { type: "function", function: { name: t.name, description: t.description, parameters: withExactNumbers(t.inputSchema) } };
}
