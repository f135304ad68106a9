/**
 * The simulated assistant's reading of a conversation: what the user asked in the latest request
 * (with the values supplied when the assistant asked for them), which of those calls were already made
 * since, with what results, and so what the next move is: the calls still to make (together when they
 * are independent, a dependent one once its source's result is in, with the id or value read from that
 * result), a question for required values nobody gave, or a final answer over the results. This is
 * the truth every multi-turn role of the simulator agrees on: the assistant answers it (faults aside),
 * the negotiator and the sample checker compare candidates and labels with it.
 *
 * Values are read back with text.ts exactly as the single-turn tool agent reads them, so whatever the
 * simulated user writes the simulated assistant can read.
 */
import { parseJsonExact, stringifyJsonExact } from "../../../util/exactJson.js";
import type { SimTool } from "../queryWriter.js";
import { schemaType } from "../schemaValues.js";
import { findParamValue, identifierWords, splitSentences } from "../text.js";
import { matchTool, messageText, type AgentCall } from "../toolAgent.js";
import { argsObject, isObject, propertiesOf, requiredOf } from "./cases.js";

/** How a user asks for a value to be taken from the previous call's result ("using the order id from that result"). */
export const FROM_RESULT = /\b(?:from (?:that|the|this|its) (?:result|output|response|answer)|(?:that|which) (?:it|this|that) (?:returns|gives back))\b/i;

export interface ReadCall {
  tool: SimTool;
  args: Record<string, unknown>;
  /** Required parameters the request and its clarifications give no value for. */
  missing: string[];
  /** The parameter the user wants filled from the result of the call at `source` (an index into the reading). */
  fromResult?: { param: string; source: number };
}

/** A call already made in the current request's span, with its result when it has come back. */
export interface MadeCall {
  id: string;
  name: string;
  args: Record<string, unknown> | undefined;
  result?: { ok: boolean; value: unknown };
}

export type NextMove =
  | { kind: "calls"; calls: AgentCall[] }
  | { kind: "question"; missing: { call: ReadCall; params: string[] }[] }
  | { kind: "final"; made: MadeCall[] }
  | { kind: "decline"; closing: boolean };

export interface ConversationReading {
  /** The request's user texts: the request itself, then the answers to the assistant's questions. */
  texts: string[];
  intended: ReadCall[];
  made: MadeCall[];
  move: NextMove;
}

function conform(value: unknown, schema: Record<string, unknown> | undefined): unknown {
  const t = schema ? schemaType(schema) : undefined;
  if (t === "string" && (typeof value === "number" || typeof value === "boolean")) return String(value);
  return value;
}

function orderedArgs(tool: SimTool, args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(propertiesOf(tool))) if (Object.hasOwn(args, k)) out[k] = args[k];
  for (const k of Object.keys(args)) if (!Object.hasOwn(out, k)) out[k] = args[k];
  return out;
}

/** The parameter a from-result phrase names ("using the order id from that result"), else the first missing one. */
function resultParam(sentence: string, missing: readonly string[]): string | undefined {
  const named = /\b(?:using|taking|take|with) (?:the |its |that )?([\p{L}\p{N} _-]+?) from /iu.exec(sentence)?.[1];
  if (named) {
    const words = identifierWords(named).join(" ");
    const hit = missing.find((p) => identifierWords(p).join(" ") === words);
    if (hit) return hit;
  }
  return missing[0];
}

function readSentence(sentence: string, tools: readonly SimTool[]): { tool: SimTool; args: Record<string, unknown> } | undefined {
  let best: ReturnType<typeof matchTool> | undefined;
  for (const t of tools) {
    const m = matchTool(sentence, t);
    if (!m.relevant) continue;
    if (!best || m.score > best.score) best = m;
  }
  return best ? { tool: best.tool, args: { ...best.args } } : undefined;
}

/**
 * The calls a request asks for, sentence by sentence, with values the clarifications supply filled in.
 * When the request itself matches no tool, the clarifications are read as the request.
 */
export function readRequest(texts: readonly string[], tools: readonly SimTool[]): ReadCall[] {
  const read = (requestTexts: readonly string[], clarifications: readonly string[]): ReadCall[] => {
    const out: ReadCall[] = [];
    for (const text of requestTexts) {
      for (const sentence of splitSentences(text)) {
        const hit = readSentence(sentence, tools);
        if (!hit) continue;
        const props = propertiesOf(hit.tool);
        let missing = requiredOf(hit.tool).filter((r) => !Object.hasOwn(hit.args, r));
        for (const p of missing) {
          for (const c of [...clarifications].reverse()) {
            const found = findParamValue(c, p, []);
            if (found) {
              hit.args[p] = conform(found.value, props[p]);
              break;
            }
          }
        }
        missing = missing.filter((p) => !Object.hasOwn(hit.args, p));
        const call: ReadCall = { tool: hit.tool, args: hit.args, missing };
        if (FROM_RESULT.test(sentence) && out.length > 0) {
          const param =
            resultParam(sentence, missing) ??
            resultParam(
              sentence,
              Object.keys(props).filter((p) => !Object.hasOwn(hit.args, p)),
            );
          if (param) {
            call.fromResult = { param, source: out.length - 1 };
            call.missing = missing.filter((p) => p !== param);
          }
        }
        call.args = orderedArgs(hit.tool, call.args);
        out.push(call);
      }
    }
    return out;
  };
  const fromRequest = read(texts.slice(0, 1), texts.slice(1));
  return fromRequest.length > 0 || texts.length < 2 ? fromRequest : read(texts.slice(1), []);
}

function role(m: unknown): string | undefined {
  return isObject(m) && typeof m.role === "string" ? m.role : undefined;
}

function toolCallsOf(m: unknown): { id: string; name: string; arguments: unknown }[] {
  if (!isObject(m) || !Array.isArray(m.tool_calls)) return [];
  return m.tool_calls.filter(isObject).map((c, i) => {
    const f = isObject(c.function) ? c.function : c;
    return { id: typeof c.id === "string" ? c.id : `#${i}`, name: typeof f.name === "string" ? f.name : "", arguments: f.arguments };
  });
}

/** An assistant text answer given straight after a user message that asks something: a question for the user. */
function isQuestion(messages: readonly unknown[], i: number): boolean {
  const m = messages[i];
  if (role(m) !== "assistant" || toolCallsOf(m).length > 0 || role(messages[i - 1]) !== "user") return false;
  return messageText((m as Record<string, unknown>).content).includes("?");
}

/** Indices of the current request's user messages: the newest one and, back through the assistant's questions, the ones it answers. */
export function requestSpan(messages: readonly unknown[]): number[] {
  let i = -1;
  for (let j = messages.length - 1; j >= 0; j--)
    if (role(messages[j]) === "user") {
      i = j;
      break;
    }
  if (i < 0) return [];
  const span = [i];
  while (i >= 2 && isQuestion(messages, i - 1)) {
    i -= 2;
    span.unshift(i);
  }
  return span;
}

/** A tool message's content as a result: an `{"error": ...}` object is a failure. */
export function parseResult(content: unknown): { ok: boolean; value: unknown } {
  const text = messageText(content);
  let value: unknown = text;
  try {
    value = parseJsonExact(text);
  } catch {
    // Plain-text results stay text.
  }
  const failed = isObject(value) && Object.hasOwn(value, "error") && Object.keys(value).length === 1;
  return { ok: !failed, value };
}

/** Calls made after the span's first user message, each with the tool message answering it. */
export function madeCalls(messages: readonly unknown[], from: number): MadeCall[] {
  const out: MadeCall[] = [];
  for (let j = from + 1; j < messages.length; j++) {
    for (const c of toolCallsOf(messages[j])) out.push({ id: c.id, name: c.name, args: argsObject(c.arguments) });
    const m = messages[j];
    if (role(m) === "tool" && isObject(m)) {
      const target = out.find((c) => c.id === m.tool_call_id && !c.result) ?? out.find((c) => !c.result);
      if (target) target.result = parseResult(m.content);
    }
  }
  return out;
}

function same(a: unknown, b: unknown): boolean {
  return stringifyJsonExact(a) === stringifyJsonExact(b);
}

/** The value a dependent call takes from its source's result: the same key, its last word ("id" of "order_id"), an id, or the first usable value. */
export function valueFromResult(result: unknown, param: string, schema: Record<string, unknown> | undefined): unknown {
  const want = schema ? schemaType(schema) : undefined;
  const fits = (v: unknown) =>
    want === "integer"
      ? Number.isInteger(v)
      : want === "number"
        ? typeof v === "number"
        : want === "boolean"
          ? typeof v === "boolean"
          : typeof v === "string" || typeof v === "number";
  const words = identifierWords(param);
  const keys = [param, words.join("_"), words.at(-1) ?? param, "id"];
  const entries: [string, unknown][] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 6) return;
    if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (isObject(v))
      for (const [k, x] of Object.entries(v)) {
        entries.push([k, x]);
        walk(x, depth + 1);
      }
  };
  walk(result, 0);
  for (const key of keys) {
    const hit = entries.find(([k, v]) => k.toLowerCase() === key.toLowerCase() && fits(v));
    if (hit) return conform(hit[1], schema);
  }
  const any = entries.find(([k, v]) => identifierWords(k).includes("id") && fits(v)) ?? entries.find(([, v]) => fits(v));
  if (any) return conform(any[1], schema);
  return fits(result) ? conform(result, schema) : undefined;
}

/** Reads the conversation and decides the next move. */
export function readConversation(messages: readonly unknown[], tools: readonly SimTool[]): ConversationReading {
  const span = requestSpan(messages);
  if (span.length === 0) return { texts: [], intended: [], made: [], move: { kind: "decline", closing: false } };
  const texts = span.map((i) => messageText((messages[i] as Record<string, unknown>).content));
  const intended = tools.length > 0 ? readRequest(texts, tools) : [];
  const made = madeCalls(messages, span[0]!);
  const lastIsUser = role(messages.at(-1)) === "user";

  // Each intended call meets the made call that serves it (same tool, the values the user gave).
  const served: (MadeCall | undefined)[] = [];
  const used = new Set<MadeCall>();
  for (const call of intended) {
    const match = made.find(
      (m) =>
        !used.has(m) &&
        m.name === call.tool.name &&
        m.args !== undefined &&
        Object.entries(call.args).every(([k, v]) => same(m.args![k], v)) &&
        (!call.fromResult || Object.hasOwn(m.args, call.fromResult.param)),
    );
    if (match) used.add(match);
    served.push(match);
  }

  if (intended.length === 0) {
    if (made.length > 0 && !lastIsUser) return { texts, intended, made, move: { kind: "final", made } };
    return { texts, intended, made, move: { kind: "decline", closing: CLOSING.test(texts.at(-1) ?? "") } };
  }

  const unanswered = intended.filter((c, i) => !served[i] && c.missing.length > 0);
  if (unanswered.length > 0 && made.length === 0)
    return { texts, intended, made, move: { kind: "question", missing: unanswered.map((call) => ({ call, params: call.missing })) } };

  const next: AgentCall[] = [];
  intended.forEach((call, i) => {
    if (served[i] || call.missing.length > 0) return;
    if (!call.fromResult) {
      next.push({ name: call.tool.name, args: call.args });
      return;
    }
    const source = served[call.fromResult.source];
    if (!source?.result?.ok) return; // not run yet, still running, or failed: nothing to read
    const value = valueFromResult(source.result.value, call.fromResult.param, propertiesOf(call.tool)[call.fromResult.param]);
    if (value === undefined) return;
    next.push({ name: call.tool.name, args: orderedArgs(call.tool, { ...call.args, [call.fromResult.param]: value }) });
  });
  // A call still waiting for a result in flight is not made twice: only ready calls go out.
  const waiting = made.some((m) => !m.result);
  if (next.length > 0 && !waiting) return { texts, intended, made, move: { kind: "calls", calls: next } };
  return { texts, intended, made, move: made.length > 0 ? { kind: "final", made } : { kind: "decline", closing: false } };
}

const CLOSING = /\b(thanks|thank you|that's all|that is all|all done|nothing else|bye)\b/i;
