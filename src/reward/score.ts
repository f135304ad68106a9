/**
 * The reward of one policy response against its ground truth (pure; no I/O).
 *
 * - format: the response parses in the policy's template (Hermes `<tool_call>` blocks or OpenAI
 *   tool_calls JSON); a text answer is well-formed only where no call is expected (irrelevance).
 * - execution: the matcher's verdict against the ground truth (1 when it accepts), else the
 *   configured partial credit: the share of expected calls some model call satisfies (perCall) or
 *   of arguments right (perArgument), over an optimal one-to-one pairing of calls, divided by
 *   max(expected, made) so extra calls cost credit too.
 * - reasoning: the rules scorer on the text around the calls, counted only when execution is right.
 *
 * Malformed inputs (ground truth, extra_info, response) never throw: they score 0 with a `reason`.
 * A scorer made by createRewardScorer keeps what it parsed and compiled per tools list and ground
 * truth, so the many responses of one GRPO group cost one label compile.
 */
import type { RewardConfig, RewardResult } from "./config.js";
import type { BfclAnswer, DecodeResult, DecodedCall, FunctionDoc, ParamDoc } from "../matching/types.js";
import { decodeOpenAiToolCalls } from "../matching/decoders.js";
import { decodeHermesCalls, mayNeedPythonJson } from "./hermesFast.js";
import { matchWithCategory } from "../matching/matcher.js";
import { MatchCall } from "../matching/matchCall.js";
import { compileCall, findDescription, passesCompiledCall, type CompiledCall } from "../matching/bfclChecker.js";
import { parsePyJson } from "../matching/pyJson.js";
import { PyCrash, isDict } from "../matching/pyValue.js";
import { functionDocsFromOpenAiTools, withInferredDocs } from "./toolDocs.js";
import { scoreReasoningRules } from "./reasoning.js";

export interface RewardItem {
  data_source: string;
  solution_str: string;
  ground_truth: string;
  extra_info?: unknown;
}

/** One shape for every result (absent reason is undefined, which JSON leaves out). */
class Scored implements RewardResult {
  constructor(
    public score: number,
    public format: number,
    public execution: number,
    public reasoning: number,
    public execution_correct: boolean,
    public reason: string | undefined,
  ) {}
}

const failure = (reason: string): RewardResult => new Scored(0, 0, 0, 0, false, reason);

/** A ground truth resolved against one tools list: the docs the matcher reads and the compiled label. */
interface Label {
  expected: DecodedCall[];
  docs: FunctionDoc[];
  /** BFCL answer form: one `{name: {param: [value]}}` per expected call (the matcher caches its compile on it). */
  answer: BfclAnswer;
  /** perArgument: one compiled single-parameter check per expected call and parameter, built when first needed. */
  paramChecks?: (CompiledCall | undefined)[][];
}

/** What the tools of a sample resolve to: docs (or the reason they are unusable) and the labels seen with them. */
interface ToolsEntry {
  docs: FunctionDoc[] | string;
  labels: Map<string, Label | string>;
}

const NO_TOOLS: unique symbol = Symbol("no tools");

type Response = { kind: "calls"; calls: MatchCall[] } | { kind: "text" } | { kind: "bad"; reason: string };
const TEXT: Response = { kind: "text" };

const TOOL_CALL_OPEN = "<tool_call>";
const TOOL_CALL_BLOCKS = /<tool_call>[\s\S]*?(?:<\/tool_call>|$)/g;
const THINK_TAGS = /<\/?think>/g;

function fromDecoded(d: DecodeResult): Response {
  if (!d.ok) return { kind: "bad", reason: `response: ${d.error.reason}` };
  const calls: MatchCall[] = new Array<MatchCall>(d.calls.length);
  for (let i = 0; i < d.calls.length; i++) calls[i] = MatchCall.fromArgs(d.calls[i]!.name, d.calls[i]!.args);
  return { kind: "calls", calls };
}

function decodeHermesResponse(text: string): Response {
  if (!text.includes(TOOL_CALL_OPEN)) return TEXT;
  const d = decodeHermesCalls(text);
  return d.ok ? { kind: "calls", calls: d.calls } : { kind: "bad", reason: `response: ${d.reason}` };
}

/**
 * OpenAI template: `{"tool_calls": [...], "content": ...}`; text that is not a JSON object is a text answer.
 * Arguments written as an object (not JSON text) are read as Python reads them where JSON.parse would
 * not (an integral float, an int past 2^53): parsePyJson; JSON.parse, faster, for the rest.
 */
function decodeOpenAiResponse(text: string): Response {
  if (text.trimStart()[0] !== "{") return TEXT;
  let v: unknown;
  try {
    v = mayNeedPythonJson(text) ? parsePyJson(text) : JSON.parse(text);
  } catch (err) {
    return { kind: "bad", reason: `response: not a JSON object of tool calls (${(err as Error).message})` };
  }
  if (!isDict(v)) return { kind: "bad", reason: "response: not a JSON object of tool calls" };
  const toolCalls = v.tool_calls;
  if (toolCalls === undefined || toolCalls === null || (Array.isArray(toolCalls) && toolCalls.length === 0)) return TEXT;
  return fromDecoded(decodeOpenAiToolCalls(toolCalls as { function: { name: string; arguments: string } }[]));
}

function decodeResponse(template: RewardConfig["template"], text: string): Response {
  if (template === "hermes") return decodeHermesResponse(text);
  if (template === "openai") return decodeOpenAiResponse(text);
  if (text.includes(TOOL_CALL_OPEN)) return decodeHermesResponse(text);
  return text.includes('"tool_calls"') ? decodeOpenAiResponse(text) : TEXT;
}

/** The text the policy wrote besides its calls (think tags dropped, their content kept). */
function reasoningText(template: RewardConfig["template"], text: string): string {
  if (template !== "hermes" && text.trimStart()[0] === "{" && (template === "openai" || text.includes('"tool_calls"'))) {
    try {
      const v: unknown = JSON.parse(text);
      if (isDict(v)) return typeof v.content === "string" ? v.content.replace(THINK_TAGS, "") : "";
    } catch {
      // Not JSON: the text as it is.
    }
  }
  return text.replace(TOOL_CALL_BLOCKS, " ").replace(THINK_TAGS, "");
}

/** `{"calls": [{"name", "arguments"}...]}` (arguments an object, or JSON text of one); a message on anything else. */
function parseGroundTruth(text: string): DecodedCall[] | string {
  let v: unknown;
  try {
    v = parsePyJson(text);
  } catch (err) {
    return `ground_truth: not valid JSON (${(err as Error).message})`;
  }
  if (!isDict(v) || !Array.isArray(v.calls)) return 'ground_truth: expected {"calls": [...]}';
  const calls: DecodedCall[] = [];
  for (let i = 0; i < v.calls.length; i++) {
    const c: unknown = v.calls[i];
    if (!isDict(c) || typeof c.name !== "string" || c.name === "") return `ground_truth.calls[${i}]: expected {"name": "...", "arguments": {...}}`;
    let args: unknown = c.arguments ?? {};
    if (typeof args === "string") {
      try {
        args = parsePyJson(args);
      } catch {
        return `ground_truth.calls[${i}].arguments: not a JSON object`;
      }
    }
    if (!isDict(args)) return `ground_truth.calls[${i}].arguments: expected an object`;
    calls.push({ name: c.name, args });
  }
  return calls;
}

const defineOwn = (o: object, key: string, value: unknown) => Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });

/** A dict value as BFCL writes a dict parameter's acceptable value: each key's value is its one candidate. */
function dictCandidate(v: Record<string, unknown>): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [k, x] of Object.entries(v)) defineOwn(out, k, [x]);
  return out;
}

/**
 * The acceptable values of one expected argument, in the form the checker reads for its documented
 * type: BFCL checks a dict parameter key by key (dict_checker: `[{key: [value]}]`) and a list of dicts
 * item by item (list_dict_checker: `[[{key: [value]}, ...]]`); any other value is its own single candidate.
 */
function candidatesOf(doc: ParamDoc | undefined, v: unknown): unknown[] {
  if (doc?.type === "dict" && isDict(v)) return [dictCandidate(v)];
  if ((doc?.type === "array" || doc?.type === "list") && doc.items?.type === "dict" && Array.isArray(v) && v.every(isDict)) return [v.map(dictCandidate)];
  return [v];
}

function paramDoc(doc: FunctionDoc | undefined, param: string): ParamDoc | undefined {
  return doc !== undefined && Object.prototype.hasOwnProperty.call(doc.parameters.properties, param) ? doc.parameters.properties[param] : undefined;
}

/** The ground truth as a BFCL answer whose only acceptable values are its own, dict and list-of-dict values written as the checker reads them. */
function toAnswer(calls: DecodedCall[], docs: FunctionDoc[]): BfclAnswer {
  return calls.map((c) => {
    const doc = findDescription(docs, c.name);
    const params: Record<string, unknown[]> = {};
    for (const [k, v] of Object.entries(c.args)) defineOwn(params, k, candidatesOf(paramDoc(doc, k), v));
    const call: Record<string, Record<string, unknown[]>> = {};
    defineOwn(call, c.name, params);
    return call;
  });
}

/** The tools of extra_info: absent (docs come from the ground truth), a JSON string, or an already parsed list. */
function toolsOf(extraInfo: unknown): string | unknown[] | typeof NO_TOOLS | { bad: string } {
  if (extraInfo === undefined || extraInfo === null) return NO_TOOLS;
  if (!isDict(extraInfo)) return { bad: "extra_info: expected an object" };
  const tools = extraInfo.tools;
  if (tools === undefined || tools === null || tools === "") return NO_TOOLS;
  if (typeof tools === "string" || Array.isArray(tools)) return tools;
  return { bad: "extra_info.tools: expected a JSON string of the OpenAI tools list" };
}

/**
 * Docs by tools text, across requests: a campaign's samples draw on one tool library, so the same
 * few lists recur in every batch. Bounded; the oldest entry goes first.
 */
const docsCache = new Map<string, FunctionDoc[] | string>();
const DOCS_CACHE_ENTRIES = 4096;

function docsFromToolsText(text: string): FunctionDoc[] | string {
  let docs = docsCache.get(text);
  if (docs === undefined) {
    docs = parseToolsText(text);
    if (docsCache.size >= DOCS_CACHE_ENTRIES) docsCache.delete(docsCache.keys().next().value!);
    docsCache.set(text, docs);
  }
  return docs;
}

function parseToolsText(text: string): FunctionDoc[] | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return `extra_info.tools: not valid JSON (${(err as Error).message})`;
  }
  return functionDocsFromOpenAiTools(v);
}

/** Largest total credit over one-to-one pairings of expected calls (rows) with model calls (columns). */
function bestPairing(credit: number[][], modelCount: number): number {
  // Exact over subsets of model calls while that is small (parallel calls: a handful); greedy beyond.
  if (modelCount <= 12) {
    let best = new Map<number, number>([[0, 0]]);
    for (const row of credit) {
      const next = new Map<number, number>(best);
      for (const [mask, total] of best) {
        for (let m = 0; m < modelCount; m++) {
          if (mask & (1 << m) || row[m]! <= 0) continue;
          const key = mask | (1 << m);
          const t = total + row[m]!;
          if ((next.get(key) ?? -1) < t) next.set(key, t);
        }
      }
      best = next;
    }
    let max = 0;
    for (const t of best.values()) if (t > max) max = t;
    return max;
  }
  const used = new Set<number>();
  let total = 0;
  for (const row of credit) {
    let pick = -1;
    for (let m = 0; m < modelCount; m++) if (!used.has(m) && row[m]! > 0 && (pick < 0 || row[m]! > row[pick]!)) pick = m;
    if (pick >= 0) {
      used.add(pick);
      total += row[pick]!;
    }
  }
  return total;
}

function passes(compiled: () => CompiledCall | undefined, call: MatchCall): boolean {
  try {
    const c = compiled();
    return c !== undefined && passesCompiledCall(c, call);
  } catch (err) {
    if (err instanceof PyCrash) return false;
    throw err;
  }
}

/** perCall: each pair scores 1 when the model call passes the expected call's check. */
function perCallCredit(label: Label, calls: MatchCall[]): number[][] {
  return label.answer.map((expected, e) => {
    const name = label.expected[e]!.name;
    const compiled = () => {
      const doc = findDescription(label.docs, name);
      return doc === undefined ? undefined : compileCall(doc, expected, "python", false);
    };
    return calls.map((call) => (call.name === name && passes(compiled, call) ? 1 : 0));
  });
}

/** The check of one expected argument alone: its documented type, no other parameter, nothing required. */
function paramCheck(label: Label, e: number, param: string): CompiledCall | undefined {
  const checks = (label.paramChecks ??= label.expected.map(() => []));
  const names = Object.keys(label.expected[e]!.args);
  const i = names.indexOf(param);
  if (checks[e]![i] !== undefined) return checks[e]![i];
  const name = label.expected[e]!.name;
  const doc = findDescription(label.docs, name);
  if (doc === undefined) return undefined;
  const properties = {};
  Object.defineProperty(properties, param, { value: doc.parameters.properties[param], enumerable: true });
  const single: FunctionDoc = { name: doc.name, parameters: { type: "dict", properties, required: [] } };
  const answer: Record<string, Record<string, unknown[]>> = {};
  const params = {};
  Object.defineProperty(params, param, { value: candidatesOf(paramDoc(doc, param), label.expected[e]!.args[param]), enumerable: true });
  Object.defineProperty(answer, name, { value: params, enumerable: true });
  let compiled: CompiledCall | undefined;
  try {
    compiled = compileCall(single, answer, "python", false);
  } catch (err) {
    if (!(err instanceof PyCrash)) throw err;
  }
  checks[e]![i] = compiled;
  return compiled;
}

/** perArgument: the share of the expected call's arguments the model call got right, over its arguments and any unexpected ones. */
function perArgumentCredit(label: Label, calls: MatchCall[]): number[][] {
  return label.expected.map((expected, e) => {
    const params = Object.keys(expected.args);
    return calls.map((call) => {
      if (call.name !== expected.name) return 0;
      let right = 0;
      for (const p of params) {
        const at = call.indexOf(p);
        if (at >= 0 && passes(() => paramCheck(label, e, p), new MatchCall(call.name, [p], [call.argValues[at]]))) right++;
      }
      let unexpected = 0;
      for (const n of call.argNames) if (!Object.prototype.hasOwnProperty.call(expected.args, n)) unexpected++;
      const denominator = params.length + unexpected;
      return denominator === 0 ? 1 : right / denominator;
    });
  });
}

function partialExecution(config: RewardConfig, label: Label, calls: MatchCall[]): number {
  if (config.partialCredit === "none") return 0;
  const credit = config.partialCredit === "perCall" ? perCallCredit(label, calls) : perArgumentCredit(label, calls);
  return bestPairing(credit, calls.length) / Math.max(label.expected.length, calls.length);
}

/** A scorer for one config; it caches parsed tools and compiled labels (use one per request or batch). */
export function createRewardScorer(config: RewardConfig): (item: RewardItem) => RewardResult {
  const tools = new Map<string | unknown[] | typeof NO_TOOLS, ToolsEntry>();
  const w = config.weights;
  const gated = config.kind === "gatedComposite";

  // Consecutive samples usually share their tools (a GRPO group; the batch's tools table): the last entry is tried first.
  let lastTools: unknown;
  let lastEntry: ToolsEntry | undefined;
  const labelFor = (item: RewardItem): Label | string => {
    const t = toolsOf(item.extra_info);
    if (typeof t === "object" && !Array.isArray(t)) return t.bad;
    let entry = t === lastTools ? lastEntry : tools.get(t);
    if (entry === undefined) {
      entry = { docs: t === NO_TOOLS ? [] : typeof t === "string" ? docsFromToolsText(t) : functionDocsFromOpenAiTools(t), labels: new Map() };
      tools.set(t, entry);
    }
    lastTools = t;
    lastEntry = entry;
    if (typeof entry.docs === "string") return entry.docs;
    if (typeof item.ground_truth !== "string") return "ground_truth: expected a JSON string";
    let label = entry.labels.get(item.ground_truth);
    if (label === undefined) {
      const expected = parseGroundTruth(item.ground_truth);
      if (typeof expected === "string") label = expected;
      else {
        const docs = withInferredDocs(entry.docs, expected);
        label = { expected, docs, answer: toAnswer(expected, docs) };
      }
      entry.labels.set(item.ground_truth, label);
    }
    return label;
  };

  const score = (item: RewardItem): RewardResult => {
    const label = labelFor(item);
    if (typeof label === "string") return failure(label);
    const text = item.solution_str;
    if (typeof text !== "string") return failure("solution_str: expected a string");
    if (text.trim() === "") return failure("response: empty");
    const response = decodeResponse(config.template, text);
    if (response.kind === "bad") return failure(response.reason);

    const expectedCount = label.expected.length;
    let format = 1;
    let execution: number;
    let correct = false;
    let reason: string | undefined;
    if (response.kind === "text") {
      if (expectedCount === 0) {
        execution = 1;
        correct = true;
      } else {
        format = 0;
        execution = 0;
        reason = `response: expected ${expectedCount} tool call(s), got a text answer`;
      }
    } else if (expectedCount === 0) {
      execution = 0;
      reason = `execution: expected no tool call (irrelevance), got ${response.calls.length}`;
    } else {
      // Strict matching assigns parallel calls optimally; when BFCL's greedy (compiled, much
      // cheaper) pairing already matches every call, an optimal one exists too, so strict runs only
      // on what greedy refuses.
      let verdict = matchWithCategory(response.calls, label.docs, label.answer, undefined, undefined, "bfcl", false, false);
      if (!verdict.valid && config.matchMode === "strict" && expectedCount > 1) {
        verdict = matchWithCategory(response.calls, label.docs, label.answer, undefined, undefined, "strict", false, false);
      }
      if (verdict.valid) {
        execution = 1;
        correct = true;
      } else {
        execution = partialExecution(config, label, response.calls);
        reason = `execution: ${verdict.errorType ?? "no match"}`;
      }
    }

    if (!gated) return new Scored(correct ? 1 : 0, format, execution, 0, correct, reason);
    let reasoning = 0;
    if (correct && w.reasoning > 0) {
      reasoning = scoreReasoningRules(config.reasoning, reasoningText(config.template, text), response.kind === "calls" ? response.calls : []);
    }
    return new Scored(w.format * format + w.execution * execution + (correct ? w.reasoning * reasoning : 0), format, execution, reasoning, correct, reason);
  };

  return (item: RewardItem): RewardResult => {
    try {
      return score(item);
    } catch (err) {
      // A bug here must not kill a training step: the sample scores as a failure that says why.
      return failure(`internal error while scoring: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
}

/** The reward of one response (a fresh scorer: nothing cached across calls). */
export function scoreResponse(config: RewardConfig, item: RewardItem): RewardResult {
  return createRewardScorer(config)(item);
}
