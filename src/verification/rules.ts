/**
 * Rule verification: deterministic checks a sample must pass before anything costlier looks at it.
 * Every reason is collected (not just the first), so a rejected sample says all that is wrong with it:
 * message structure, the call count its kind requires, and each call's tool and arguments.
 *
 * A multi_turn sample (an assistant turn of a dialogue, the dialogue up to it as its prompt) is judged
 * on its label, the last message: a text answer or any number of calls, each to an offered tool with
 * arguments its schema accepts. Its history must hold together (every tool message answers a call of
 * the assistant message before it, every call id once, every call to an offered tool), but earlier
 * calls' arguments are not held to the schema: a call the tool server answered with an error, then
 * corrected, is part of what the dialogue teaches. The same call may recur in a later turn (the user
 * asked again), so repeated calls are only flagged within one assistant message.
 */
import type { ChatMessage, McpTool, SampleKind, ToolCall, Verdict } from "../domain/types.js";
import { parseJsonExact } from "../util/exactJson.js";
import { canonicalJson } from "../util/ids.js";
import { formatJsonPath, pathDeeperThan } from "../util/jsonDepth.js";
import { argumentProblems } from "./argumentValidator.js";
import { MAX_ARGUMENT_DEPTH, MAX_TOOL_JSON_DEPTH } from "../jsonSchema/keywords.js";

export const RULES_VERIFIER = "rules";

export interface RuleSample {
  kind: SampleKind;
  messages: ChatMessage[];
  tools: McpTool[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v;
}

/** A call as found in the messages, numbered across the whole sample. */
interface FoundCall {
  index: number;
  call: unknown;
  /** Index of the assistant message that made it. */
  message: number;
}

/**
 * Checks roles and their order (system? then user, then assistant/tool turns), message contents and
 * that tool results answer the calls just made. Returns the calls found, in order.
 */
function checkStructure(messages: unknown, reasons: string[]): FoundCall[] {
  const calls: FoundCall[] = [];
  if (!Array.isArray(messages) || messages.length === 0) {
    reasons.push("messages: must contain at least one message");
    return calls;
  }
  /** Ids of the latest assistant turn's calls that have not had a tool result yet. */
  let pending = new Set<string>();
  let pendingFrom = -1;
  let previous: string | undefined;

  messages.forEach((m: unknown, i) => {
    const where = `messages[${i}]`;
    if (!isPlainObject(m)) {
      reasons.push(`${where}: must be a message object (found ${describe(m)})`);
      previous = undefined;
      return;
    }
    const role = m.role;
    if (role !== "tool" && pending.size > 0) {
      reasons.push(
        `messages[${pendingFrom}]: tool call${pending.size > 1 ? "s" : ""} ${[...pending].map((id) => `"${id}"`).join(", ")} never answered by a tool message`,
      );
      pending = new Set();
    }
    switch (role) {
      case "system":
        if (i !== 0) reasons.push(`${where}: a system message may only come first`);
        if (typeof m.content !== "string") reasons.push(`${where}: system content must be a string`);
        break;
      case "user":
        if (previous === "user") reasons.push(`${where}: user message follows another user message`);
        else if (previous === "tool") reasons.push(`${where}: user message follows a tool result (the assistant must answer first)`);
        if (typeof m.content !== "string") reasons.push(`${where}: user content must be a string`);
        else if (m.content.trim() === "") reasons.push(`${where}: user message is empty`);
        break;
      case "assistant": {
        if (previous === undefined || previous === "system") reasons.push(`${where}: assistant message before any user message`);
        else if (previous === "assistant") reasons.push(`${where}: assistant message follows another assistant message`);
        const content = m.content;
        if (content !== null && content !== undefined && typeof content !== "string") reasons.push(`${where}: assistant content must be a string or null`);
        const toolCalls = m.tool_calls;
        if (toolCalls !== undefined && !Array.isArray(toolCalls)) reasons.push(`${where}: tool_calls must be a list`);
        const list = Array.isArray(toolCalls) ? toolCalls : [];
        const hasText = typeof content === "string" && content.trim() !== "";
        if (!hasText && list.length === 0) reasons.push(`${where}: assistant message has neither content nor tool calls`);
        for (const call of list) {
          calls.push({ index: calls.length, call, message: i });
          if (isPlainObject(call) && typeof call.id === "string" && call.id !== "") pending.add(call.id);
        }
        pendingFrom = i;
        break;
      }
      case "tool": {
        if (previous !== "assistant" && previous !== "tool") reasons.push(`${where}: tool message must follow an assistant message with tool calls`);
        const id = m.tool_call_id;
        if (typeof id !== "string" || id === "") reasons.push(`${where}: tool message has no tool_call_id`);
        else if (!pending.delete(id)) reasons.push(`${where}: tool_call_id "${id}" does not answer a pending call of the previous assistant message`);
        if (typeof m.content !== "string") reasons.push(`${where}: tool content must be a string`);
        break;
      }
      default:
        reasons.push(`${where}: unknown role ${JSON.stringify(role)}`);
    }
    previous = typeof role === "string" ? role : undefined;
  });

  const last: unknown = messages[messages.length - 1];
  const lastRole = isPlainObject(last) ? last.role : undefined;
  if (lastRole !== "assistant") reasons.push(`last message must be an assistant message (found ${typeof lastRole === "string" ? lastRole : describe(last)})`);
  if (!messages.some((m: unknown) => isPlainObject(m) && m.role === "user")) reasons.push("messages: no user message");
  return calls;
}

function checkCallCount(kind: unknown, calls: FoundCall[], reasons: string[]): void {
  const n = calls.length;
  switch (kind) {
    case "standard":
      if (n !== 1) reasons.push(`standard sample must contain exactly one call (found ${n})`);
      break;
    case "parallel":
      if (n < 2) reasons.push(`parallel sample must contain at least two calls (found ${n})`);
      break;
    case "irrelevance":
      if (n > 0) {
        const names = calls.map(({ call }) =>
          isPlainObject(call) && isPlainObject(call.function) && typeof call.function.name === "string" ? call.function.name : "?",
        );
        reasons.push(`irrelevance sample must not call a tool (called ${[...new Set(names)].join(", ")})`);
      }
      break;
    case "multi_turn":
      // The label may be calls (one or several) or text (a question for a missing parameter, a final answer).
      break;
    default:
      reasons.push(`unknown sample kind ${JSON.stringify(kind)} (expected standard, parallel, irrelevance or multi_turn)`);
  }
}

/** Indexes the offered tools by name, reporting malformed entries and duplicate names. */
function toolsByName(tools: unknown, reasons: string[]): Map<string, McpTool> {
  const byName = new Map<string, McpTool>();
  if (!Array.isArray(tools)) {
    reasons.push(`tools: must be a list (found ${describe(tools)})`);
    return byName;
  }
  tools.forEach((t: unknown, i) => {
    if (!isPlainObject(t) || typeof t.name !== "string" || !isPlainObject(t.inputSchema)) {
      reasons.push(`tools[${i}]: must be an MCP tool with a name and an inputSchema object`);
      return;
    }
    // The loader bounds tools it loads; one that came another way must not overflow the schema walks.
    const deep = pathDeeperThan(t, MAX_TOOL_JSON_DEPTH + 1);
    if (deep) {
      reasons.push(`tools[${i}] "${t.name}": nests deeper than ${MAX_TOOL_JSON_DEPTH} levels at ${formatJsonPath(`tools[${i}]`, deep)}`);
      return;
    }
    if (byName.has(t.name)) reasons.push(`tools[${i}]: duplicate tool name "${t.name}"`);
    else byName.set(t.name, t as unknown as McpTool);
  });
  return byName;
}

/**
 * Checks one call's shape, id, tool and arguments (`schema` false: that the arguments are a JSON object
 * only, for a multi-turn sample's earlier calls). `seen` tracks ids and (name, arguments) pairs.
 */
function checkCall(
  found: FoundCall,
  tools: Map<string, McpTool>,
  seen: { ids: Map<string, number>; signatures: Map<string, number> },
  reasons: string[],
  schema = true,
): void {
  const { index, call } = found;
  if (!isPlainObject(call)) {
    reasons.push(`call[${index}]: must be a tool call object (found ${describe(call)})`);
    return;
  }
  const fn = call.function;
  const name = isPlainObject(fn) && typeof fn.name === "string" && fn.name !== "" ? fn.name : undefined;
  const label = `call[${index}]${name === undefined ? "" : ` ${name}`}`;

  if (typeof call.id !== "string" || call.id === "") reasons.push(`${label}: missing tool_call id`);
  else {
    const earlier = seen.ids.get(call.id);
    if (earlier !== undefined) reasons.push(`${label}: tool_call id "${call.id}" already used by call[${earlier}]`);
    else seen.ids.set(call.id, index);
  }
  if (call.type !== "function") reasons.push(`${label}: type must be "function" (found ${JSON.stringify(call.type)})`);
  if (!isPlainObject(fn)) {
    reasons.push(`${label}: missing "function" object`);
    return;
  }
  if (name === undefined) {
    reasons.push(`${label}: missing function name`);
    return;
  }
  const tool = tools.get(name);
  if (!tool) reasons.push(`${label}: tool does not exist`);

  // On the wire `arguments` is a JSON string; anything else is a producer bug worth rejecting.
  const rawArgs = (fn as Partial<ToolCall["function"]>).arguments;
  if (typeof rawArgs !== "string") {
    reasons.push(`${label}: arguments must be a JSON string (found ${describe(rawArgs)})`);
    return;
  }
  let args: unknown;
  try {
    // Integers a double cannot hold stay exact (bigints): two order ids one apart are two calls, and a schema bound is checked as Python would.
    args = parseJsonExact(rawArgs);
  } catch (err) {
    reasons.push(`${label}: arguments are not valid JSON (${(err as Error).message})`);
    return;
  }
  if (!isPlainObject(args)) {
    reasons.push(`${label}: arguments must be a JSON object (found ${describe(args)})`);
    return;
  }
  const deep = pathDeeperThan(args, MAX_ARGUMENT_DEPTH);
  if (deep) {
    reasons.push(`${label}: arguments nest deeper than ${MAX_ARGUMENT_DEPTH} levels at ${formatJsonPath("", deep)}`);
    return;
  }

  const signature = `${name}\n${canonicalJson(args)}`;
  const same = seen.signatures.get(signature);
  if (same !== undefined) reasons.push(`${label}: repeats call[${same}] with the same arguments`);
  else seen.signatures.set(signature, index);

  if (tool && schema) for (const problem of argumentProblems(tool, args)) reasons.push(`${label}: ${problem}`);
}

/** Runs every rule on the sample; `ok` exactly when there is no reason to reject it. */
export function verifyRules(sample: RuleSample): Verdict {
  const reasons: string[] = [];
  const calls = checkStructure(sample.messages, reasons);
  checkCallCount(sample.kind, calls, reasons);
  const tools = toolsByName(sample.tools, reasons);
  const seen = { ids: new Map<string, number>(), signatures: new Map<string, number>() };
  if (sample.kind === "multi_turn") {
    const labelMessage = Array.isArray(sample.messages) ? sample.messages.length - 1 : -1;
    let turn = -1;
    for (const found of calls) {
      // Repeats count within one assistant message only: a later turn may rightly make the same call again.
      if (found.message !== turn) seen.signatures = new Map();
      turn = found.message;
      checkCall(found, tools, seen, reasons, found.message === labelMessage);
    }
  } else for (const found of calls) checkCall(found, tools, seen, reasons);
  return { verifier: RULES_VERIFIER, ok: reasons.length === 0, reasons };
}
