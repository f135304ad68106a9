/**
 * The simulated assistant's self-reflection (REFLECT_MARKER): given its own turn and a critique, it
 * returns the corrected turn. It fixes what the critique names: an argument named in a critique line
 * about a call takes the truthful reading's value (or goes, when the truthful call has no such
 * argument); a call whose tool is not offered, or a critique line naming the call but none of its
 * arguments, gets the truthful call whole; calls the critique does not name stay as they were. A
 * text turn is rewritten as the truthful reply. A request without tools gets the turn back unchanged.
 */
import type { SimTool } from "../queryWriter.js";
import type { AgentCall } from "../toolAgent.js";
import { messageText } from "../toolAgent.js";
import { truthfulReply, type AssistantReply } from "./assistant.js";
import { argsObject, isObject, propertiesOf } from "./cases.js";
import { jsonBlock } from "../judge.js";

export interface ReflectCase {
  /** The dialogue the turn answered (without the reflection's system prompt and the case message). */
  dialogue: unknown[];
  original: { content: string | null; calls: { name: string; args: Record<string, unknown> | undefined }[] };
  critique: string[];
}

export function parseReflectCase(messages: readonly unknown[]): ReflectCase | undefined {
  for (let i = messages.length - 1; i >= 1; i--) {
    const m = messages[i];
    if (!isObject(m) || m.role !== "user") continue;
    const block = jsonBlock(messageText(m.content));
    if (!isObject(block) || !isObject(block.original)) continue;
    const o = block.original;
    const calls = (Array.isArray(o.tool_calls) ? o.tool_calls : []).filter(isObject).map((c) => {
      const f = isObject(c.function) ? c.function : c;
      return { name: typeof f.name === "string" ? f.name : "", args: argsObject(f.arguments) };
    });
    const critique = (Array.isArray(block.critique) ? block.critique : []).filter((x): x is string => typeof x === "string");
    const start = isObject(messages[0]) && (messages[0].role === "system" || messages[0].role === "developer") ? 1 : 0;
    return { dialogue: messages.slice(start, i), original: { content: typeof o.content === "string" ? o.content : null, calls }, critique };
  }
  return undefined;
}

function mentions(line: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, "u").test(line);
}

export function revise(seed: number, c: ReflectCase, tools: readonly SimTool[]): AssistantReply {
  // Without the offered tools nothing can be checked or fixed: the turn comes back as it was.
  if (tools.length === 0)
    return c.original.calls.length > 0
      ? { content: null, calls: c.original.calls.map((x) => ({ name: x.name, args: x.args ?? {} })), move: "calls" }
      : { content: c.original.content, calls: [], move: "final" };
  const truth = truthfulReply(seed, c.dialogue, tools);
  if (truth.calls.length === 0 || c.original.calls.length === 0) return truth;
  const offered = new Set(tools.map((t) => t.name));
  const namesAny = c.original.calls.some((call) => c.critique.some((l) => mentions(l, call.name)));
  const used = new Set<number>();
  const counterpart = (name: string, i: number): AgentCall | undefined => {
    let j = truth.calls.findIndex((t, k) => !used.has(k) && t.name === name);
    if (j < 0 && !used.has(i) && i < truth.calls.length) j = i;
    if (j < 0) return undefined;
    used.add(j);
    return truth.calls[j];
  };
  const calls: AgentCall[] = [];
  c.original.calls.forEach((call, i) => {
    const lines = c.critique.filter((l) => !namesAny || mentions(l, call.name));
    const twin = counterpart(offered.has(call.name) ? call.name : "", i);
    if (!call.args || !offered.has(call.name)) {
      if (twin) calls.push(twin);
      return;
    }
    if (lines.length === 0) {
      calls.push({ name: call.name, args: call.args });
      return;
    }
    const tool = tools.find((t) => t.name === call.name)!;
    const params = new Set([...Object.keys(call.args), ...Object.keys(propertiesOf(tool))]);
    const named = [...params].filter((p) => lines.some((l) => mentions(l, p)));
    if (named.length === 0) {
      if (twin) calls.push(twin);
      return;
    }
    const args = { ...call.args };
    for (const p of named) {
      if (twin && Object.hasOwn(twin.args, p)) args[p] = twin.args[p];
      else delete args[p];
    }
    calls.push({ name: call.name, args });
  });
  return calls.length > 0 ? { content: null, calls, move: "calls" } : truth;
}
