/**
 * The toolloop LLM simulator: an HTTP server with vLLM's OpenAI-compatible surface that answers from
 * scripts (scripts.ts), not a model. Content is a pure function of (seed, canonical request body);
 * faults and latency jitter come from separate seeded streams so they never change content.
 * `maxConcurrency` models a server's capacity: beyond it requests queue FIFO.
 *
 * Every request's `X-Request-Id` header (vLLM accepts one per request) is remembered, so tests can
 * compare what the client says it sent with what the server received; out-of-process callers read
 * the same set from `GET /toolloop/received-request-ids`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import path from "node:path";
import { seedFrom } from "../../util/ids.js";
import { SIMULATOR_FAULT_HEADER, SIMULATOR_HEADER, SIMULATOR_TOOL_SERVER_ERROR_FIELD } from "../simulatorMark.js";
import { SeededRandom } from "../../util/random.js";
import { describeCheckpointProfile, mistakeRateScaleFor, type LoadedCheckpointProfile } from "./checkpointProfile.js";
import { DEFAULT_EMBEDDING_DIMS, embed } from "./embeddings.js";
import {
  chatRequestSchema,
  completionRequestSchema,
  embeddingRequestSchema,
  parseBody,
  parseTokenizeBody,
  readRequestBody,
  type Parsed,
  type ChatRequestBody,
  type CompletionRequestBody,
  type EmbeddingRequestBody,
  type TokenizeChatBody,
  type TokenizeRequestBody,
} from "./requests.js";
import { stringifyJsonExact } from "../../util/exactJson.js";
import { agreementLogprobs, policyRequestOf, renderedAnswerTurn, scoresFinalAssistantTurn } from "./promptLogprobs.js";
import { normaliseDialogueOptions, type DialogueSimOptions } from "./dialogue/options.js";
import { normaliseReasoningOptions, scriptedThought, thoughtOf, thoughtPrefix, type ReasoningOptions, type ReasoningStyle } from "./reasoning.js";
import { contentRng, scriptChat, scriptCompletion } from "./scripts.js";
import { chatLogprobs, completionLogprobs, errorBody, MAX_MODEL_LEN, modelCard, promptLogprobs, SYSTEM_FINGERPRINT, usage } from "./shapes.js";
import { countTokens, renderChatPrompt, tokenize, tokenPieces, type ChatTemplateOptions } from "./tokenizer.js";

export interface SimulatorFaults {
  rate429?: number;
  rate500?: number;
  rateHang?: number;
  rateMalformedJson?: number;
  rateTruncatedToolCalls?: number;
  /**
   * Refuse every POST with this status, as a misconfigured deployment does (not at random): 401 and
   * 403 as vLLM behind an API key, or an OpenAI-compatible gateway, answers (JSON error bodies); 407 as
   * a forward proxy asking for credentials answers (Proxy-Authenticate and an HTML page). Default: none.
   */
  refuseStatus?: RefusalStatus;
}

/** The statuses `faults.refuseStatus` can answer with. */
export const REFUSAL_STATUSES = [401, 403, 407] as const;
export type RefusalStatus = (typeof REFUSAL_STATUSES)[number];

/** The refusal a misconfigured endpoint (401, 403) or proxy (407) answers every request with. */
export function refusalReply(status: RefusalStatus): { status: number; body: unknown; text?: string; headers: Record<string, string> } {
  if (status === 401)
    return {
      status,
      body: { error: { message: "Incorrect API key provided (simulated refusal).", type: "invalid_request_error", param: null, code: "invalid_api_key" } },
      headers: { "www-authenticate": 'Bearer realm="toolloop-simulator"' },
    };
  if (status === 403)
    return {
      status,
      body: {
        error: { message: "The API key is not allowed to use this model (simulated refusal).", type: "permission_error", param: null, code: "forbidden" },
      },
      headers: {},
    };
  // A forward proxy's answer: not the API's JSON.
  return {
    status,
    body: null,
    text: "<html><head><title>407 Proxy Authentication Required</title></head><body><h1>Proxy Authentication Required</h1><p>simulated refusal</p></body></html>\n",
    headers: { "content-type": "text/html", "proxy-authenticate": 'Basic realm="proxy"' },
  };
}

export interface SimulatorOptions {
  seed?: number;
  port?: number;
  latencyMs?: number;
  latencyJitterMs?: number;
  maxConcurrency?: number;
  faults?: SimulatorFaults;
  /** Fraction of tool-agent answers with a deliberate, realistic mistake. */
  mistakeRate?: number;
  /** Fraction of tool-agent answers with a schema-valid wrong argument value that rules cannot catch (own random stream; default 0). */
  silentMistakeRate?: number;
  /** How often a simulated judge (label-judgement / label-check) gives a wrong verdict (default 0). */
  judgeErrorRate?: number;
  /** The multi-turn roles' scriptable rates (dialogue/options.ts; each its own random stream). */
  dialogue?: DialogueSimOptions;
  /** Served model names; by default the toolloop-sim family (any name starting "toolloop-sim"). */
  models?: string[];
  /** Bind address (default 127.0.0.1). */
  host?: string;
  /** Answer as a reasoning model served by vLLM, with or without its reasoning parser (reasoning.ts); default: no reasoning. */
  reasoning?: ReasoningOptions;
  /** Serve as the SIMULATED policy of a stand-in checkpoint: mistake rate scaled per tool by its profile. */
  checkpointProfile?: LoadedCheckpointProfile;
  quiet?: boolean;
  /** Sees every POST body as received (bench/synthesisThroughput.ts replays them with a plain HTTP client). */
  onRequestBody?: (path: string, body: string) => void;
}

export interface SimulatorStats {
  requests: number;
  completed: number;
  byPath: Record<string, number>;
  faultsInjected: Record<string, number>;
  maxInFlight: number;
  /** Requests that carried an X-Request-Id header (repeats of one id count each time). */
  requestsWithId: number;
  firstRequestAt?: number;
  lastResponseAt?: number;
  /**
   * Engine slots left unused while the server was busy (from the first request on), in slot-ms: the
   * integral of (maxConcurrency - requests being served) over time. Divided by maxConcurrency times the
   * busy window it is the share of capacity the clients did not ask for (they did not keep it full).
   */
  idleSlotMs: number;
  /** Time requests held an engine slot, summed (ms): over `completed` it is the mean service time, L plus the server's own delays. */
  servedMs: number;
}

export interface SimulatorHandle {
  url: string;
  port: number;
  stats(): SimulatorStats;
  /** Distinct X-Request-Id values received since start or the last resetStats. The set itself, not a copy (cheap at 100k ids); resetStats starts a new one. */
  receivedRequestIds(): ReadonlySet<string>;
  /** Milliseconds since the last request arrived or was answered; 0 while any is in flight. */
  idleForMs(): number;
  resetStats(): void;
  setFaults(f: SimulatorFaults): void;
  setLatency(ms: number, jitterMs?: number): void;
  close(): Promise<void>;
}

export const DEFAULT_MODELS = ["toolloop-sim", "toolloop-sim-generator", "toolloop-sim-judge", "toolloop-sim-policy"];
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const MAX_LOGPROBS = 20;
/** Response header (and system_fingerprint) marking answers of a served stand-in checkpoint. */
export const SIMULATED_POLICY_HEADER = "x-toolloop-simulated-policy";
export const STANDIN_SYSTEM_FINGERPRINT = `${SYSTEM_FINGERPRINT}+standin-checkpoint-simulated`;
/** The simulator's own introspection route; vLLM has no such path, so it cannot shadow a real one. */
export const RECEIVED_REQUEST_IDS_PATH = "/toolloop/received-request-ids";

type Fault = "429" | "500" | "hang" | "malformedJson" | "truncatedToolCalls";

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function checkRate(name: string, v: number | undefined): number {
  const x = v ?? 0;
  if (!Number.isFinite(x) || x < 0 || x > 1)
    throw new Error(`simulator ${name.startsWith("rate") ? "faults." : ""}${name} must be a number between 0 and 1 (got ${String(v)})`);
  return x;
}

function normaliseFaults(f: SimulatorFaults): Required<Omit<SimulatorFaults, "refuseStatus">> & Pick<SimulatorFaults, "refuseStatus"> {
  if (f.refuseStatus !== undefined && !(REFUSAL_STATUSES as readonly number[]).includes(f.refuseStatus))
    throw new Error(`simulator faults.refuseStatus must be one of ${REFUSAL_STATUSES.join(", ")} (got ${String(f.refuseStatus)})`);
  return {
    ...(f.refuseStatus !== undefined ? { refuseStatus: f.refuseStatus } : {}),
    rate429: checkRate("rate429", f.rate429),
    rate500: checkRate("rate500", f.rate500),
    rateHang: checkRate("rateHang", f.rateHang),
    rateMalformedJson: checkRate("rateMalformedJson", f.rateMalformedJson),
    rateTruncatedToolCalls: checkRate("rateTruncatedToolCalls", f.rateTruncatedToolCalls),
  };
}

function emptyStats(): SimulatorStats {
  return { requests: 0, completed: 0, byPath: {}, faultsInjected: {}, maxInFlight: 0, requestsWithId: 0, idleSlotMs: 0, servedMs: 0 };
}

/** vLLM's chat-template switches (add_generation_prompt defaults to true, continue_final_message to false); both true is a 400 as in vLLM. */
function templateOptions(body: { add_generation_prompt?: boolean | null; continue_final_message?: boolean | null }): ChatTemplateOptions {
  const addGenerationPrompt = body.add_generation_prompt ?? true;
  const continueFinalMessage = body.continue_final_message ?? false;
  if (addGenerationPrompt && continueFinalMessage) throw new HttpError(400, "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
  return { addGenerationPrompt, continueFinalMessage };
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const seed = opts.seed ?? 0;
  const mistakeRate = checkRate("mistakeRate", opts.mistakeRate);
  const scriptOptions = {
    silentMistakeRate: checkRate("silentMistakeRate", opts.silentMistakeRate),
    judgeErrorRate: checkRate("judgeErrorRate", opts.judgeErrorRate),
    dialogue: normaliseDialogueOptions(opts.dialogue),
  };
  const reasoning = normaliseReasoningOptions(opts.reasoning);
  let faults = normaliseFaults(opts.faults ?? {});
  let latencyMs = opts.latencyMs ?? 0;
  let jitterMs = opts.latencyJitterMs ?? 0;
  const capacity = opts.maxConcurrency ?? 64;
  if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`simulator maxConcurrency must be a positive integer (got ${capacity})`);
  const servedModels = opts.models && opts.models.length > 0 ? opts.models : DEFAULT_MODELS;
  const acceptsModel = (m: string) => servedModels.includes(m) || (!opts.models && m.startsWith("toolloop-sim"));
  const host = opts.host ?? "127.0.0.1";
  const checkpoint = opts.checkpointProfile;
  const mistakeScale = checkpoint ? (tool: string) => mistakeRateScaleFor(checkpoint.profile, tool) : undefined;
  const fingerprint = checkpoint ? STANDIN_SYSTEM_FINGERPRINT : SYSTEM_FINGERPRINT;
  const policyHeaders: Record<string, string> = checkpoint
    ? { [SIMULATED_POLICY_HEADER]: "stand-in checkpoint; SIMULATED policy, nothing was trained (LLM simulator with a checkpoint profile)" }
    : {};
  // vLLM's model card names the served folder as `root`; for a checkpoint that is the merged folder.
  const modelRoot = checkpoint ? path.dirname(path.resolve(checkpoint.file)) : undefined;

  const faultRng = new SeededRandom(seedFrom("faults", seed));
  const jitterRng = new SeededRandom(seedFrom("jitter", seed));
  const createdAt = Math.floor(Date.now() / 1000);
  let stats = emptyStats();
  // Kept out of `stats` so that stats() stays a cheap clone with 100k requests.
  let receivedIds = new Set<string>();
  let responseCounter = 0;
  let closed = false;
  let lastActivityAt = Date.now();
  let inFlight = 0;

  // FIFO admission: `active` requests are being served; the rest wait in `waiting`.
  let active = 0;
  let activeSince = 0;
  /** Accounts the slots unused since the last change of `active` (only once requests have come). */
  const setActive = (n: number) => {
    const now = performance.now();
    if (stats.firstRequestAt !== undefined && activeSince > 0) stats.idleSlotMs += (capacity - active) * (now - activeSince);
    active = n;
    activeSince = now;
  };
  const waiting: (() => void)[] = [];
  const acquire = () =>
    new Promise<void>((resolve) => {
      if (active < capacity) {
        setActive(active + 1);
        resolve();
      } else waiting.push(resolve);
    });
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else setActive(active - 1);
  };

  const inFlightAborts = new Set<AbortController>();
  const sockets = new Set<Socket>();

  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });

  const drawFault = (path: string): Fault | undefined => {
    const r = faultRng.next();
    let acc = faults.rate429;
    if (r < acc) return "429";
    if (r < (acc += faults.rate500)) return "500";
    if (r < (acc += faults.rateHang)) return "hang";
    if (r < (acc += faults.rateMalformedJson)) return "malformedJson";
    if (path === "/v1/chat/completions" && r < (acc += faults.rateTruncatedToolCalls)) return "truncatedToolCalls";
    return undefined;
  };
  const countFault = (f: Fault) => {
    stats.faultsInjected[f] = (stats.faultsInjected[f] ?? 0) + 1;
  };

  const send = (res: ServerResponse, reply: Reply, rawText?: string) => {
    if (res.destroyed || res.writableEnded) return;
    const text = rawText ?? stringifyJsonExact(reply.body);
    res.writeHead(reply.status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      [SIMULATOR_HEADER]: "1",
      ...policyHeaders,
      ...reply.headers,
    });
    res.end(text);
    stats.completed++;
    stats.lastResponseAt = lastActivityAt = Date.now();
  };

  const modelOf = (requested: string | null | undefined): string => {
    const model = requested ?? servedModels[0]!;
    if (!acceptsModel(model)) throw new HttpError(404, `The model \`${model}\` does not exist.`);
    return model;
  };
  const nextId = (prefix: string) => `${prefix}-${(++responseCounter).toString(16).padStart(8, "0")}${seed.toString(16)}`;
  const now = () => Math.floor(Date.now() / 1000);

  function validated<T>(schema: Parameters<typeof parseBody<T>>[0], body: unknown): T {
    return accepted(parseBody(schema, body));
  }
  function accepted<T>(p: Parsed<T>): T {
    if (!p.ok) throw new HttpError(400, p.message);
    return p.value;
  }

  function checkCommon(b: { stream?: boolean | null; n?: number | null }) {
    if (b.stream) throw new HttpError(400, "stream: streaming is not supported by the toolloop simulator; send stream=false");
    if (b.n != null && b.n !== 1) throw new HttpError(400, `n: the toolloop simulator only supports n=1 (got ${b.n})`);
  }

  function chatCompletion(body: ChatRequestBody, fault: Fault | undefined): { reply: Reply; applied: boolean } {
    checkCommon(body);
    const model = modelOf(body.model);
    const tools = body.tools ?? [];
    const choice = body.tool_choice;
    if ((choice === "required" || (choice && typeof choice === "object")) && tools.length === 0)
      throw new HttpError(400, "tool_choice: when using `tool_choice`, `tools` must be set.");
    if (choice && typeof choice === "object" && !tools.some((t) => t.function.name === choice.function.name))
      throw new HttpError(400, `tool_choice: tool '${choice.function.name}' has not been passed in \`tools\`.`);
    if (body.response_format?.type === "json_schema" && !body.response_format.json_schema?.schema)
      throw new HttpError(400, "response_format.json_schema.schema: Field required");
    if (body.top_logprobs != null && body.top_logprobs > MAX_LOGPROBS)
      throw new HttpError(400, `top_logprobs: must be at most ${MAX_LOGPROBS} (got ${body.top_logprobs})`);
    if (body.top_logprobs != null && body.top_logprobs > 0 && !body.logprobs)
      throw new HttpError(400, "top_logprobs: when using `top_logprobs`, `logprobs` must be set to true.");
    if (body.prompt_logprobs != null && body.prompt_logprobs > MAX_LOGPROBS)
      throw new HttpError(400, `prompt_logprobs: must be at most ${MAX_LOGPROBS} (got ${body.prompt_logprobs})`);

    const template = templateOptions(body);
    const promptText = renderChatPrompt(body.messages, tools, template);
    const promptTokens = countTokens(promptText);
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? MAX_MODEL_LEN - promptTokens;
    if (promptTokens + maxTokens > MAX_MODEL_LEN)
      throw new HttpError(
        400,
        `This model's maximum context length is ${MAX_MODEL_LEN} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
      );

    const scripted = answer(body);
    // A reasoning model thinks first, and its thought uses up max_tokens before the answer does.
    const style = reasoningStyleOf(model);
    const prefix = style ? thoughtPrefix(style, scriptedThought(scripted)) : "";
    const prefixTokens = countTokens(prefix);
    if (style && prefixTokens >= maxTokens)
      return { reply: { status: 200, body: cutWhileThinking(body, model, style, prefix, maxTokens, promptText, promptTokens) }, applied: false };
    const answerTokens = maxTokens - prefixTokens;
    let content = scripted.content;
    let finish: "stop" | "tool_calls" | "length" = scripted.toolCalls.length > 0 ? "tool_calls" : "stop";
    if (content !== null && countTokens(content) > answerTokens) {
      content = tokenPieces(content).slice(0, answerTokens).join("");
      finish = "length";
    }
    let toolCalls = scripted.toolCalls.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: c.arguments } }));
    let applied = false;
    if (fault === "truncatedToolCalls" && toolCalls.length > 0) {
      // Generation stopped inside the first call's arguments. vLLM's hermes parser cannot read a cut
      // <tool_call> block, so it returns no tool_calls and the raw generated text as the content.
      const first = toolCalls[0]!;
      const cutArguments = first.function.arguments.slice(0, Math.max(1, Math.floor(first.function.arguments.length / 2)));
      content = (content ?? "") + `<tool_call>\n{"name": "${first.function.name}", "arguments": ${cutArguments}`;
      toolCalls = [];
      finish = "length";
      applied = true;
    }
    // Generated text as a Hermes-style template would render it, for token counts and logprobs.
    let generated =
      (content ?? "") + toolCalls.map((c) => `<tool_call>\n{"name": "${c.function.name}", "arguments": ${c.function.arguments}}\n</tool_call>`).join("\n");
    if (toolCalls.length > 0 && countTokens(generated) > answerTokens) {
      // max_tokens ended generation inside the calls. As with the fault above, vLLM's hermes parser
      // cannot read the cut block: no tool_calls, the generated text as the content.
      generated = tokenPieces(generated).slice(0, answerTokens).join("");
      content = generated;
      toolCalls = [];
      finish = "length";
    }
    let reasoningText: string | null = null;
    if (style === "parser") reasoningText = thoughtOf(prefix);
    else if (style) content = prefix + (content ?? "");
    const completed = chatBody(body, model, { content, reasoningText, toolCalls, finish, generated: prefix + generated, promptText, promptTokens });
    return {
      // Why the scripted tool server answered with an error, beside its answer (simulatorMark.ts).
      reply: { status: 200, body: scripted.toolServerError ? { ...completed, [SIMULATOR_TOOL_SERVER_ERROR_FIELD]: scripted.toolServerError } : completed },
      applied,
    };
  }

  /** The model name's reasoning style, when the simulator answers as a reasoning model for it. */
  function reasoningStyleOf(model: string): ReasoningStyle | undefined {
    if (!reasoning) return undefined;
    return !reasoning.models || reasoning.models.includes(model) ? reasoning.style : undefined;
  }

  /** max_tokens ran out inside the thought: no answer and no calls; the thought so far is the reasoning (parser) or the content. */
  function cutWhileThinking(
    body: ChatRequestBody,
    model: string,
    style: ReasoningStyle,
    prefix: string,
    maxTokens: number,
    promptText: string,
    promptTokens: number,
  ) {
    const generated = tokenPieces(prefix).slice(0, maxTokens).join("");
    const parsed = style === "parser";
    return chatBody(body, model, {
      content: parsed ? null : generated,
      reasoningText: parsed ? thoughtOf(generated) : null,
      toolCalls: [],
      finish: "length",
      generated,
      promptText,
      promptTokens,
    });
  }

  function chatBody(
    body: ChatRequestBody,
    model: string,
    a: {
      content: string | null;
      /** The thought as vLLM's reasoning parser returns it (null: no parser, or no reasoning model). */
      reasoningText: string | null;
      toolCalls: { id: string; type: "function"; function: { name: string; arguments: string } }[];
      finish: "stop" | "tool_calls" | "length";
      /** Every generated token's text, thought included: for the completion tokens and the logprobs. */
      generated: string;
      promptText: string;
      promptTokens: number;
    },
  ) {
    const message = {
      role: "assistant",
      // Both names, as vLLM set them while it moved from reasoning_content to reasoning (see reasoning.ts).
      ...(a.reasoningText !== null ? { reasoning: a.reasoningText } : {}),
      reasoning_content: a.reasoningText,
      content: a.content,
      tool_calls: a.toolCalls,
      refusal: null,
      annotations: null,
      audio: null,
      function_call: null,
    };
    const tools = body.tools ?? [];
    const template = templateOptions(body);
    return {
      id: nextId("chatcmpl"),
      object: "chat.completion",
      created: now(),
      model,
      choices: [
        {
          index: 0,
          message,
          logprobs: body.logprobs ? chatLogprobs(a.generated, body.top_logprobs ?? 0) : null,
          finish_reason: a.finish,
          stop_reason: null,
        },
      ],
      usage: usage(a.promptTokens, countTokens(a.generated)),
      prompt_logprobs: body.prompt_logprobs != null ? chatPromptLogprobs(body, tools, template, a.promptText, body.prompt_logprobs) : null,
      kv_transfer_params: null,
      system_fingerprint: fingerprint,
    };
  }

  /** What the served model says to a chat request: the scripted roles with this server's options. */
  function answer(body: ChatRequestBody) {
    return scriptChat(body, seed, mistakeRate, mistakeScale, scriptOptions);
  }

  /** Prompt logprobs; a scored final assistant turn is judged against the policy's own answer (contract C). */
  function chatPromptLogprobs(body: ChatRequestBody, tools: readonly unknown[], template: ChatTemplateOptions, promptText: string, k: number) {
    if (!scoresFinalAssistantTurn(body, template.addGenerationPrompt ?? true)) return promptLogprobs(promptText, k);
    const reference = answer(policyRequestOf(body));
    const finalTurnStart = countTokens(renderChatPrompt(body.messages.slice(0, -1), tools, { addGenerationPrompt: false }));
    return promptLogprobs(promptText, k, agreementLogprobs(promptText, finalTurnStart, renderedAnswerTurn(reference)));
  }

  function completion(body: CompletionRequestBody): Reply {
    checkCommon(body);
    const model = modelOf(body.model);
    for (const key of ["logprobs", "prompt_logprobs"] as const) {
      const v = body[key];
      if (v != null && v > MAX_LOGPROBS) throw new HttpError(400, `${key}: requested ${key} of ${v}, which is greater than max allowed: ${MAX_LOGPROBS}`);
    }
    const prompts = typeof body.prompt === "string" ? [body.prompt] : body.prompt;
    const maxTokens = body.max_tokens ?? 16;
    const rng = contentRng(seed, body);
    let promptTokens = 0;
    let completionTokens = 0;
    const choices = prompts.map((prompt, index) => {
      const pTokens = countTokens(prompt);
      if (pTokens + maxTokens > MAX_MODEL_LEN)
        throw new HttpError(
          400,
          `This model's maximum context length is ${MAX_MODEL_LEN} tokens. However, you requested ${pTokens + maxTokens} tokens (${pTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
        );
      const generated = scriptCompletion(rng, maxTokens);
      const gTokens = countTokens(generated);
      promptTokens += pTokens;
      completionTokens += gTokens;
      return {
        index,
        text: body.echo ? prompt + generated : generated,
        logprobs: body.logprobs != null ? completionLogprobs(prompt, generated, body.echo ?? false, body.logprobs) : null,
        finish_reason: gTokens >= maxTokens ? "length" : "stop",
        stop_reason: null,
        prompt_logprobs: body.prompt_logprobs != null ? promptLogprobs(prompt, body.prompt_logprobs) : null,
      };
    });
    return {
      status: 200,
      body: {
        id: nextId("cmpl"),
        object: "text_completion",
        created: now(),
        model,
        choices,
        usage: usage(promptTokens, completionTokens),
        system_fingerprint: fingerprint,
        kv_transfer_params: null,
      },
    };
  }

  function embeddings(body: EmbeddingRequestBody): Reply {
    const model = modelOf(body.model);
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    const dims = body.dimensions ?? DEFAULT_EMBEDDING_DIMS;
    let tokens = 0;
    const data = inputs.map((text, index) => {
      tokens += countTokens(text);
      const vec = embed(text, dims);
      const embedding = body.encoding_format === "base64" ? Buffer.from(new Float32Array(vec).buffer).toString("base64") : vec;
      return { index, object: "embedding", embedding };
    });
    return { status: 200, body: { id: nextId("embd"), object: "list", created: now(), model, data, usage: usage(tokens, 0) } };
  }

  function tokenizeReply(body: TokenizeRequestBody): Reply {
    modelOf(body.model);
    let text: string;
    if (typeof body.prompt === "string") text = body.prompt;
    else {
      const chat = body as TokenizeChatBody;
      text = renderChatPrompt(chat.messages, chat.tools ?? [], templateOptions(chat));
    }
    const { ids, pieces } = tokenize(text);
    return { status: 200, body: { count: ids.length, max_model_len: MAX_MODEL_LEN, tokens: ids, token_strs: body.return_token_strs ? pieces : null } };
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw new HttpError(400, `request body exceeds ${MAX_BODY_BYTES} bytes`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  const POST_ROUTES = new Set(["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/tokenize"]);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    stats.requests++;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    stats.firstRequestAt ??= Date.now();
    // Recorded on arrival, before any fault is drawn: a request answered 429 or never answered was
    // still received (and costs a real server its prompt processing up to that point).
    const requestId = req.headers["x-request-id"];
    if (typeof requestId === "string" && requestId !== "") {
      stats.requestsWithId++;
      receivedIds.add(requestId);
    }

    if (req.method === "GET") {
      if (path === RECEIVED_REQUEST_IDS_PATH)
        return send(res, { status: 200, body: { count: receivedIds.size, requestsWithId: stats.requestsWithId, ids: [...receivedIds] } });
      if (path === "/v1/models")
        return send(res, {
          status: 200,
          body: { object: "list", data: servedModels.map((m) => ({ ...modelCard(m, createdAt), ...(modelRoot ? { root: modelRoot } : {}) })) },
        });
      if (path === "/health") return send(res, { status: 200, body: {} }, "");
      if (path === "/version") return send(res, { status: 200, body: { version: "toolloop-simulator" } });
    }
    if (!POST_ROUTES.has(path)) return send(res, { status: 404, body: { detail: "Not Found" } });
    if (req.method !== "POST") return send(res, { status: 405, body: { detail: "Method Not Allowed" } });

    const raw = await readBody(req);
    opts.onRequestBody?.(path, raw);
    if (faults.refuseStatus !== undefined) {
      const refusal = refusalReply(faults.refuseStatus);
      stats.faultsInjected[`refuse${refusal.status}`] = (stats.faultsInjected[`refuse${refusal.status}`] ?? 0) + 1;
      return send(res, { status: refusal.status, body: refusal.body, headers: refusal.headers }, refusal.text);
    }
    const fault = drawFault(path);
    if (fault === "429") {
      countFault(fault);
      return send(res, {
        status: 429,
        body: errorBody(429, "Too many requests: the server is at capacity (simulated fault); retry later."),
        headers: { "retry-after": "1" },
      });
    }
    if (fault === "hang") {
      // Never answer: the client gives up, or close() destroys the socket.
      countFault(fault);
      return;
    }

    let body: unknown;
    try {
      // Exact where the simulator echoes or judges values (a tool's 20-digit id); JSON.parse rounded them.
      body = readRequestBody(raw);
    } catch (err) {
      throw new HttpError(400, `Invalid JSON in request body: ${(err as Error).message}`);
    }

    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.on("close", onClose);
    inFlightAborts.add(abort);
    // vLLM answers /tokenize in its API server process: no engine slot, no generation latency.
    const usesEngine = path !== "/tokenize";
    let servedFrom = 0;
    if (usesEngine) {
      await acquire();
      servedFrom = performance.now();
      stats.maxInFlight = Math.max(stats.maxInFlight, active);
    }
    try {
      if (closed || abort.signal.aborted) return;
      // The reply is worked out while the request holds its slot: an engine's latency includes its
      // compute, so the simulator's own work does not add to `latencyMs` (capacity stays C/L).
      const slotMs = usesEngine ? latencyMs + (jitterMs > 0 ? jitterRng.next() * jitterMs : 0) : 0;
      const computeFrom = performance.now();
      let computed: { reply: Reply; truncated: boolean } | { error: unknown } | undefined;
      if (fault !== "500") {
        try {
          if (path === "/v1/chat/completions") {
            const r = chatCompletion(validated(chatRequestSchema, body), fault);
            computed = { reply: r.reply, truncated: r.applied };
          } else if (path === "/v1/completions") computed = { reply: completion(validated(completionRequestSchema, body)), truncated: false };
          else if (path === "/v1/embeddings") computed = { reply: embeddings(validated(embeddingRequestSchema, body)), truncated: false };
          else computed = { reply: tokenizeReply(accepted(parseTokenizeBody(body))), truncated: false };
        } catch (err) {
          // Answered (as a 400) once the slot time has passed, as before.
          computed = { error: err };
        }
      }
      if (usesEngine) await sleep(slotMs - (performance.now() - computeFrom), abort.signal);
      if (closed || abort.signal.aborted) return;
      if (computed === undefined) {
        countFault("500");
        return send(res, { status: 500, body: errorBody(500, "Internal server error (simulated fault): the engine failed while processing the request.") });
      }
      if ("error" in computed) throw computed.error;
      if (computed.truncated) countFault("truncatedToolCalls");
      const reply = computed.reply;
      if (fault === "malformedJson" && reply.status === 200) {
        countFault(fault);
        const text = stringifyJsonExact(reply.body);
        return send(
          res,
          { ...reply, headers: { ...reply.headers, [SIMULATOR_FAULT_HEADER]: fault } },
          text.slice(0, Math.max(1, Math.floor(text.length * 0.6))),
        );
      }
      return send(res, reply);
    } finally {
      inFlightAborts.delete(abort);
      res.off("close", onClose);
      if (usesEngine) {
        stats.servedMs += performance.now() - servedFrom;
        release();
      }
    }
  }

  const server = createServer((req, res) => {
    lastActivityAt = Date.now();
    inFlight++;
    res.once("close", () => {
      inFlight--;
      lastActivityAt = Date.now();
    });
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      send(res, { status, body: errorBody(status, message) });
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("simulator: could not read the listening port");
  const port = address.port;
  const url = `http://${urlHost(host)}:${port}/v1`;
  if (!opts.quiet) {
    console.log(`[toolloop-simulator] listening on ${url}${host !== urlHost(host) ? ` (bound to ${host})` : ""} (scripted responses, not a model)`);
    if (reasoning)
      console.log(
        `[toolloop-simulator] answering as a reasoning model (${reasoning.style}) for ${reasoning.models ? reasoning.models.join(", ") : "every model"}: scripted thoughts, not a model's`,
      );
    if (checkpoint)
      console.log(`[toolloop-simulator] serving ${servedModels.join(", ")} as the ${describeCheckpointProfile(checkpoint)}; base mistake rate ${mistakeRate}`);
  }

  return {
    url,
    port,
    stats: () => structuredClone(stats),
    receivedRequestIds: () => receivedIds,
    idleForMs: () => (inFlight > 0 ? 0 : Date.now() - lastActivityAt),
    resetStats: () => {
      stats = emptyStats();
      activeSince = 0;
      receivedIds = new Set();
    },
    setFaults: (f) => {
      faults = normaliseFaults(f);
    },
    setLatency: (ms, jitter) => {
      latencyMs = ms;
      jitterMs = jitter ?? 0;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const a of inFlightAborts) a.abort();
      for (const w of waiting.splice(0)) w();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await done;
    },
  };
}

/** A host for URLs: a wildcard bind is reached on loopback; IPv6 literals go in brackets. */
function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}
