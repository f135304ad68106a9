/**
 * Scripted tool-calling agent: for each sentence of the last user message it picks the offered tool
 * whose description and name the sentence echoes and whose required parameters it gives values for,
 * reads those values back (text.ts), and emits one call per matched sentence. With a mistake rate it
 * makes the errors real models make, decided by the content RNG so a request always gets the same answer.
 */
import { stringifyJsonExact } from "../../util/exactJson.js";
import type { SeededRandom } from "../../util/random.js";
import type { SimTool } from "./queryWriter.js";
import { objectForSchema, schemaType, valueForSchema } from "./schemaValues.js";
import { contentWords, findParamValue, firstSentence, identifierWords, splitSentences } from "./text.js";

export type ToolChoice = { mode: "auto" | "none" | "required" } | { mode: "named"; name: string };

export interface AgentCall {
  name: string;
  args: Record<string, unknown>;
}

export interface AgentReply {
  content: string | null;
  calls: AgentCall[];
  mistake?: MistakeKind;
}

/**
 * `wrong_value` is the silent kind: a schema-valid argument value the request did not ask for, which
 * rule verification cannot catch (only a judge that knows the request can).
 */
export type MistakeKind = "wrong_type" | "missing_required" | "extra_param" | "hallucinated_tool" | "irrelevant_call" | "wrong_value";

interface Match {
  tool: SimTool;
  args: Record<string, unknown>;
  complete: boolean;
  relevant: boolean;
  score: number;
}

function properties(tool: SimTool): Record<string, Record<string, unknown>> {
  const p = tool.parameters.properties;
  return p && typeof p === "object" ? (p as Record<string, Record<string, unknown>>) : {};
}

function requiredOf(tool: SimTool): string[] {
  const r = tool.parameters.required;
  return Array.isArray(r) ? r.filter((x): x is string => typeof x === "string") : [];
}

function overlap(of: Set<string>, within: Set<string>): number {
  if (of.size === 0) return 0;
  let n = 0;
  for (const w of of) if (within.has(w)) n++;
  return n / of.size;
}

/** Strings the schema wants as strings stay as written; a quoted number for a number param stays a string (as the text said). */
function conform(value: unknown, schema: Record<string, unknown>): unknown {
  const t = schemaType(schema);
  if (t === "string" && (typeof value === "number" || typeof value === "boolean")) return String(value);
  return value;
}

export function matchTool(sentence: string, tool: SimTool): Match {
  const props = properties(tool);
  const required = requiredOf(tool);
  // Longer parameter names claim their span first, so `start_date` is not read as `date`.
  const names = Object.keys(props).sort((a, b) => identifierWords(b).length - identifierWords(a).length || b.length - a.length);
  const taken: [number, number][] = [];
  const args: Record<string, unknown> = {};
  for (const name of names) {
    const hit = findParamValue(sentence, name, taken);
    if (!hit) continue;
    taken.push(hit.span);
    args[name] = conform(hit.value, props[name] ?? {});
  }
  const ordered: Record<string, unknown> = {};
  for (const k of Object.keys(props)) if (k in args) ordered[k] = args[k];
  const words = contentWords(sentence);
  const descOverlap = overlap(contentWords(firstSentence(tool.description)), words);
  const nameOverlap = overlap(contentWords(identifierWords(tool.name).join(" ")), words);
  const complete = required.every((r) => r in args);
  const found = Object.keys(args).length;
  const relevant = descOverlap >= 0.5 || nameOverlap >= 0.6 || (required.length > 0 && complete && (descOverlap >= 0.25 || nameOverlap >= 0.34));
  const score = 2 * descOverlap + nameOverlap + found / Math.max(1, names.length) + 0.1 * found;
  return { tool, args: ordered, complete, relevant, score };
}

function bestMatch(sentence: string, tools: SimTool[]): Match | undefined {
  let best: Match | undefined;
  for (const t of tools) {
    const m = matchTool(sentence, t);
    if (!m.complete || !m.relevant) continue;
    if (!best || m.score > best.score) best = m;
  }
  return best;
}

/** The last user message's text (string content or text parts). */
export function lastUserText(messages: readonly unknown[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as Record<string, unknown> | undefined;
    if (m?.role !== "user") continue;
    return messageText(m.content);
  }
  return "";
}

export function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p) =>
        p && typeof p === "object" && typeof (p as Record<string, unknown>).text === "string" ? ((p as Record<string, unknown>).text as string) : "",
      )
      .join("\n");
  }
  return "";
}

const DECLINES = [
  "I'm sorry, but none of the tools I have can help with that request.",
  "I can't do that with the tools available to me; none of them fits this request.",
  "That request is outside what my available tools can handle, so I can't call any of them for it.",
];

/** A forced call: the best-scoring tool, missing required values filled from its schema. */
function forcedCall(rng: SeededRandom, text: string, tools: SimTool[]): AgentCall {
  let best: Match | undefined;
  for (const t of tools) {
    const m = matchTool(text, t);
    if (!best || m.score > best.score) best = m;
  }
  const m = best!;
  const filled = objectForSchema(rng, m.tool.parameters, m.tool.parameters, { optionalRate: 0 });
  return { name: m.tool.name, args: { ...filled, ...m.args } };
}

/** Factor on the mistake rate for a call of a tool (a served stand-in checkpoint's profile); absent means 1 for all. */
export type MistakeScale = (tool: string) => number;

/** Silent mistakes: their rate and their own random stream, so a rate of 0 leaves every other answer as it was. */
export interface SilentMistakes {
  rate: number;
  rng: SeededRandom;
}

export function runToolAgent(
  rng: SeededRandom,
  p: { messages: readonly unknown[]; tools: SimTool[]; choice: ToolChoice; mistakeRate: number; mistakeScale?: MistakeScale; silent?: SilentMistakes },
): AgentReply {
  const text = lastUserText(p.messages);
  // Always draw, so the mistake decision does not shift the rest of the stream.
  const makeMistake = rng.chance(p.mistakeRate);
  const mistakePick = rng.next();
  if (p.choice.mode === "none" || p.tools.length === 0) return { content: rng.pick(DECLINES), calls: [] };

  const pool = p.choice.mode === "named" ? p.tools.filter((t) => t.name === (p.choice as { name: string }).name) : p.tools;
  let calls: AgentCall[] = [];
  for (const sentence of splitSentences(text)) {
    const m = bestMatch(sentence, pool);
    if (m) calls.push({ name: m.tool.name, args: m.args });
  }
  if (calls.length === 0) {
    const m = bestMatch(text, pool);
    if (m) calls.push({ name: m.tool.name, args: m.args });
  }
  if (calls.length === 0 && p.choice.mode !== "auto" && pool.length > 0) calls = [forcedCall(rng, text, pool)];

  if (makeMistake && p.choice.mode === "auto") {
    const mistake = applyMistake(rng, mistakePick, calls, p.tools, p.mistakeScale);
    if (mistake) return { content: null, calls: mistake.calls, mistake: mistake.kind };
  }
  if (calls.length === 0) return { content: rng.pick(DECLINES), calls: [] };
  if (p.silent && p.silent.rate > 0 && p.silent.rng.chance(p.silent.rate)) {
    const wrong = applySilentMistake(p.silent.rng, calls, p.tools, p.mistakeScale);
    if (wrong) return { content: null, calls: wrong, mistake: "wrong_value" };
  }
  return { content: null, calls };
}

function sameValue(a: unknown, b: unknown): boolean {
  return stringifyJsonExact(a) === stringifyJsonExact(b);
}

function withinBounds(schema: Record<string, unknown>, v: number): boolean {
  const n = (k: string) => (typeof schema[k] === "number" ? (schema[k] as number) : undefined);
  const min = n("minimum");
  const max = n("maximum");
  const xmin = n("exclusiveMinimum");
  const xmax = n("exclusiveMaximum");
  return (min === undefined || v >= min) && (max === undefined || v <= max) && (xmin === undefined || v > xmin) && (xmax === undefined || v < xmax);
}

/** Another value of the same type that the schema accepts, or undefined when there is none to find. */
function alternativeValue(rng: SeededRandom, schema: Record<string, unknown>, name: string, current: unknown): unknown {
  if (Object.hasOwn(schema, "const")) return undefined;
  if (Array.isArray(schema.enum)) {
    const others = schema.enum.filter((v) => typeof v === typeof current && !sameValue(v, current));
    return others.length > 0 ? rng.pick(others) : undefined;
  }
  if (typeof current === "boolean") return schemaType(schema) === "boolean" ? !current : undefined;
  for (let i = 0; i < 12; i++) {
    const v = valueForSchema(rng, schema, name);
    if (typeof v === typeof current && !sameValue(v, current) && (typeof v !== "number" || Number.isInteger(v) || !Number.isInteger(current))) return v;
  }
  if (typeof current === "number") {
    const step = schemaType(schema) === "integer" || Number.isInteger(current) ? 1 : 0.5;
    for (const v of [current + step, current - step]) if (withinBounds(schema, v)) return v;
  }
  return undefined;
}

/**
 * One argument of one call gets a different, schema-valid value of the same type (another enum
 * member, number or string). With a checkpoint profile the mistake is kept with the tool's scale.
 */
function applySilentMistake(rng: SeededRandom, calls: AgentCall[], tools: SimTool[], scale: MistakeScale | undefined): AgentCall[] | undefined {
  const i = rng.int(0, calls.length - 1);
  const call = calls[i]!;
  if (scale !== undefined && !rng.chance(scale(call.name))) return undefined;
  const tool = tools.find((t) => t.name === call.name);
  const props = tool ? properties(tool) : {};
  const keys = Object.keys(call.args).filter((k) => {
    const v = call.args[k];
    return Object.hasOwn(props, k) && (typeof v === "string" || typeof v === "number" || typeof v === "boolean");
  });
  for (const key of rng.shuffle(keys)) {
    const value = alternativeValue(rng, props[key]!, key, call.args[key]);
    if (value === undefined) continue;
    return calls.map((c, j) => (j === i ? { name: c.name, args: { ...c.args, [key]: value } } : c));
  }
  return undefined;
}

/**
 * The mistake, if one is made. With a scale, a mistake drawn at the base rate is kept with the
 * probability of the tool it touches, so a call of tool T goes wrong at mistakeRate * scale(T). The
 * extra draw happens only with a scale, so answers without a profile stay exactly as they were.
 */
function applyMistake(
  rng: SeededRandom,
  pick: number,
  calls: AgentCall[],
  tools: SimTool[],
  scale: MistakeScale | undefined,
): { kind: MistakeKind; calls: AgentCall[] } | undefined {
  const keep = (tool: string) => scale === undefined || rng.chance(scale(tool));
  if (calls.length === 0) {
    const tool = rng.pick(tools);
    if (!keep(tool.name)) return undefined;
    return { kind: "irrelevant_call", calls: [{ name: tool.name, args: objectForSchema(rng, tool.parameters, tool.parameters, { optionalRate: 0 }) }] };
  }
  const kinds: MistakeKind[] = ["wrong_type", "missing_required", "extra_param", "hallucinated_tool"];
  let kind = kinds[Math.floor(pick * kinds.length)]!;
  const i = rng.int(0, calls.length - 1);
  const call = calls[i]!;
  if (!keep(call.name)) return undefined;
  const tool = tools.find((t) => t.name === call.name);
  const out = calls.map((c) => ({ name: c.name, args: { ...c.args } }));
  const target = out[i]!;
  if (kind === "wrong_type") {
    const key = Object.keys(target.args).find((k) => typeof target.args[k] === "number" || typeof target.args[k] === "boolean");
    if (key) target.args[key] = String(target.args[key]);
    else kind = "extra_param";
  }
  if (kind === "missing_required") {
    const req = tool ? requiredOf(tool).filter((r) => r in target.args) : [];
    if (req.length > 0) delete target.args[rng.pick(req)];
    else kind = "extra_param";
  }
  if (kind === "extra_param") {
    const known = new Set(tool ? Object.keys(properties(tool)) : []);
    const unknown = ["verbose", "user_id", "format_hint", "confirm", "x_request_note"].filter((k) => !known.has(k));
    target.args[rng.pick(unknown)] = rng.pick([true, "auto", 1]);
  }
  if (kind === "hallucinated_tool") target.name = `${target.name}${rng.pick(["_v2", "_advanced", "_lookup"])}`;
  return { kind, calls: out };
}
