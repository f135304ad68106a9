/**
 * What decontamination and near-duplicate removal compare: a sample's user query (its user turns'
 * text) and a function's signature (its name and its top-level parameters' names and types). BFCL
 * function docs and our MCP tools are brought to one form: names as bfcl-eval sends them (dots
 * become "_"), types as OpenAPI types (BFCL's "dict" is "object", "float" is "number", ...).
 */
import { mapType, sanitizeToolName } from "../bfcl/toolSchema.js";
import type { ChatMessage, McpTool } from "../domain/types.js";
import type { FunctionDoc } from "../matching/types.js";

/** The user turns of a conversation, one per line (a single-turn sample's query). */
export function userQueryOf(messages: readonly ChatMessage[]): string {
  return messages
    .filter((m) => m.role === "user")
    .map((m) => m.content)
    .join("\n");
}

/** The user turns of a BFCL entry's `question` (a list of turns, each a list of messages). */
export function bfclUserQuery(question: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      const m = v as { role?: unknown; content?: unknown };
      if (m.role === "user" && typeof m.content === "string") out.push(m.content);
    }
  };
  walk(question);
  return out.join("\n");
}

function typeName(t: unknown): string {
  if (typeof t === "string") return mapType(t);
  if (Array.isArray(t)) return [...new Set(t.map((x) => mapType(typeof x === "string" ? x : undefined)))].sort().join("|");
  return mapType(undefined);
}

function signature(name: string, properties: unknown): string {
  const params =
    properties && typeof properties === "object" && !Array.isArray(properties)
      ? Object.entries(properties as Record<string, unknown>).map(([p, doc]) => `${p}:${typeName((doc as { type?: unknown } | null)?.type)}`)
      : [];
  // Parameter order carries no meaning in a JSON schema; code-unit order keeps the key locale-free.
  params.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `${sanitizeToolName(name)}(${params.join(",")})`;
}

/** `name(param:type,...)` of an MCP tool. */
export function toolSignature(tool: McpTool): string {
  return signature(tool.name, tool.inputSchema?.properties);
}

/** `name(param:type,...)` of a BFCL function doc, in the same form as toolSignature. */
export function bfclSignature(doc: FunctionDoc): string {
  return signature(doc.name, doc.parameters?.properties);
}
