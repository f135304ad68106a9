/**
 * Does a model's answer agree with a sample's label? The matcher in strict mode (optimal assignment
 * for parallel calls, every duplicate call counted: two identical calls are two calls, never a set)
 * against the label's calls as the only acceptable values. A label with no calls is an irrelevance
 * item: the answer agrees when it makes no call.
 */
import type { ChatMessage, McpTool, ToolCall } from "../domain/types.js";
import { matchCalls, type MatchReason } from "./matcher.js";
import { parsePyJson } from "./pyJson.js";
import { isDict } from "./pyValue.js";
import { functionDocsFromOpenAiTools } from "../reward/toolDocs.js";
import type { BfclAnswer, DecodedCall, FunctionDoc } from "./types.js";

/** The assistant turn being compared: its text and calls as on the wire (arguments are JSON strings). */
export interface AssistantAnswer {
  content: string | null;
  tool_calls?: readonly ToolCall[];
}

export interface LabelAgreement {
  agrees: boolean;
  /** Why not (the matcher's reasons, or the answer's arguments could not be read). */
  reasons: MatchReason[];
}

/** The last assistant message of a sample: its label. */
export function labelOf(messages: readonly ChatMessage[]): AssistantAnswer | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === "assistant") return { content: m.content, ...(m.tool_calls ? { tool_calls: m.tool_calls } : {}) };
  }
  return undefined;
}

/** The messages before the label: what the policy is asked. */
export function promptOf(messages: readonly ChatMessage[]): ChatMessage[] {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === "assistant") return messages.slice(0, i);
  return [...messages];
}

/**
 * Calls with their arguments parsed; `badCall` names the first call whose arguments are not a JSON
 * object. `parse` reads the arguments text: JSON.parse by default (plain values, for callers that
 * write them out as JSON); compareToLabel passes parsePyJson, the matcher's Python reading.
 */
export function decodeToolCalls(
  calls: readonly ToolCall[] | undefined,
  parse: (text: string) => unknown = JSON.parse,
): { calls: DecodedCall[] } | { badCall: number; message: string } {
  const out: DecodedCall[] = [];
  for (const [i, c] of (calls ?? []).entries()) {
    let args: unknown;
    try {
      args = parse(c.function.arguments);
    } catch (err) {
      return { badCall: i, message: `call ${i} (${c.function.name}): arguments are not JSON (${(err as Error).message})` };
    }
    if (!isDict(args)) return { badCall: i, message: `call ${i} (${c.function.name}): arguments are not a JSON object` };
    out.push({ name: c.function.name, args });
  }
  return { calls: out };
}

/** The matcher reads BFCL types ("float", "dict"); tools carry JSON Schema ("number", "object"). */
function functionDocs(tools: readonly McpTool[]): FunctionDoc[] {
  const docs = functionDocsFromOpenAiTools(
    tools.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.inputSchema } })),
  );
  if (typeof docs === "string") throw new Error(`compareToLabel: ${docs}`);
  return docs.map((d, i) => ({ ...d, description: tools[i]!.description }));
}

/** A dict value as a BFCL candidate: each key's value is the one acceptable value. */
const dictCandidate = (v: Record<string, unknown>) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, [x]]));

/**
 * The label's calls as a BFCL answer whose only acceptable values are the label's. BFCL writes a dict
 * parameter's acceptable values key by key (and a list of dicts item by item, key by key), so those are
 * wrapped the same way; every other value is its own single candidate.
 */
export function referenceAnswer(calls: readonly DecodedCall[], docs: readonly FunctionDoc[]): BfclAnswer {
  return calls.map((c) => {
    const props = docs.find((d) => d.name === c.name)?.parameters.properties ?? {};
    const args: Record<string, unknown[]> = {};
    for (const [k, v] of Object.entries(c.args)) {
      const doc = Object.hasOwn(props, k) ? props[k] : undefined;
      if (doc?.type === "dict" && isDict(v)) args[k] = [dictCandidate(v)];
      else if ((doc?.type === "array" || doc?.type === "list") && doc.items?.type === "dict" && Array.isArray(v) && v.every(isDict))
        args[k] = [v.map(dictCandidate)];
      else args[k] = [v];
    }
    return { [c.name]: args };
  });
}

/**
 * The arguments are read as Python's json.loads reads them (parsePyJson), as BFCL's checker sees
 * them: ints exact (12345678901234567890 and ...891 differ, where JSON.parse made one double of
 * both) and `2.0` a float, not the int 2.
 */
export function compareToLabel(answer: AssistantAnswer, label: AssistantAnswer, tools: readonly McpTool[]): LabelAgreement {
  const got = decodeToolCalls(answer.tool_calls, parsePyJson);
  if ("badCall" in got) return { agrees: false, reasons: [{ code: "bad_arguments_json", message: got.message, call: got.badCall }] };
  const want = decodeToolCalls(label.tool_calls, parsePyJson);
  if ("badCall" in want) return { agrees: false, reasons: [{ code: "bad_label", message: `the label's ${want.message}` }] };
  if (want.calls.length === 0) {
    if (got.calls.length === 0) return { agrees: true, reasons: [] };
    return { agrees: false, reasons: [{ code: "irrelevance:called", message: `the label makes no call; the answer makes ${got.calls.length}` }] };
  }
  if (got.calls.length === 0)
    return { agrees: false, reasons: [{ code: "no_call", message: `the label makes ${want.calls.length} call(s); the answer makes none` }] };
  // One call among several offered tools is BFCL's "multiple": its checker finds the doc by name ("simple" takes the first doc).
  const category = want.calls.length > 1 || got.calls.length > 1 ? "parallel" : tools.length > 1 ? "multiple" : "simple";
  const docs = functionDocs(tools);
  const r = matchCalls({ calls: got.calls, functions: docs, label: referenceAnswer(want.calls, docs), category, mode: "strict" });
  return { agrees: r.valid, reasons: r.reasons };
}
