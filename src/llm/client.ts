/**
 * OpenAI-compatible LLM client for one role (generator, judge, policy). The transport is a keep-alive
 * `node:http` pool (src/llm/httpTransport.ts); retries, backoff, Retry-After, deadlines, token
 * accounting, error classification and the per-endpoint concurrency limit are ours, so they behave
 * the same against vLLM, SGLang, OpenAI and the simulator. The hot path has one abort listener per
 * caller signal (src/util/abortSet.ts) and one deadline timer per endpoint (src/llm/deadlines.ts),
 * not a listener, controller and timers per attempt.
 */
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import { randomUUID } from "node:crypto";
import type { z } from "zod";
import { ENDPOINT_FAIL_FAST_DEFAULTS, formatPath, type CampaignConfig } from "../config/campaignConfig.js";
import type { ChatMessage, OpenAiTool, ToolCall } from "../domain/types.js";
import { llmFailures, llmRequestDuration, llmRequests, llmThoughtsStripped, llmTokens } from "../metrics/toolloopMetrics.js";
import { backoffDelayMs, DEFAULT_BACKOFF, retryAfterMs, sleep, type BackoffOptions } from "./backoff.js";
import { abortSetOf, type Abortable } from "../util/abortSet.js";
import { ConnectProbeError, probeConnect } from "./connectProbe.js";
import { DeadlineTimer, type Deadline } from "./deadlines.js";
import { endpointHealth, type EndpointHealth } from "./endpointHealth.js";
import { endpointLimiter, normaliseBaseUrl, type Slots } from "./endpointLimiter.js";
import { kindForStatus, LlmError, type LlmErrorKind } from "./errors.js";
import { HttpTransport, TransportError, type HeaderReader } from "./httpTransport.js";
import { resolveRole, RoleResolutionError, type ResolvedRole } from "./roles.js";
import { isSimulatorResponse, SIMULATOR_FAULT_HEADER } from "./simulatorMark.js";
import { hasSeparateThought, stripLeadingThought } from "./thinking.js";
import type { UsageSink } from "./usage.js";
import { nulFreeReviverFor, withoutNul } from "../util/nulFree.js";
import { parseJsonExact } from "../util/exactJson.js";
import { stringifyJson } from "../jsonSchema/exactNumbers.js";

export { LlmError, type LlmErrorKind } from "./errors.js";
export { UsageAccumulator, type UsageEvent, type UsageRow, type UsageSink } from "./usage.js";

export type ToolChoice = "auto" | "none" | "required" | { type: "function"; function: { name: string } };

export interface ChatRequest {
  messages: ChatMessage[];
  tools?: OpenAiTool[];
  toolChoice?: ToolChoice;
  temperature?: number;
  maxTokens?: number;
  seed?: number;
  /** Sent as `response_format: {type: "json_schema", json_schema: {name, schema, strict: true}}`. */
  responseFormat?: { name: string; schema: Record<string, unknown> };
  logprobs?: boolean;
  /** Extra body fields (vLLM extensions such as `chat_template_kwargs`); merged last. */
  extraBody?: Record<string, unknown>;
}

export interface ChatResult {
  /** The answer: its content without a reasoning model's leading thought (src/llm/thinking.ts), its tool calls. */
  message: { content: string | null; tool_calls?: ToolCall[] };
  /**
   * How a reasoning model's thought came, when it gave one (it is never part of `message`): `separate`
   * (vLLM's reasoning parser returned it in `reasoning` or `reasoning_content`), `stripped` (a leading
   * `<think>...</think>` cut from the content), `unclosed` (the content was a thought the answer ended
   * inside, cut off while thinking).
   */
  thought?: "separate" | "stripped" | "unclosed";
  finishReason: string;
  usage: { promptTokens: number; completionTokens: number };
  model: string;
  /** The response came from the toolloop LLM simulator (src/llm/simulatorMark.ts), not a model. */
  simulated: boolean;
  raw: unknown;
}

export interface LlmClientOptions {
  baseUrl: string;
  apiKey?: string;
  model: string;
  role: string;
  timeoutMs: number;
  maxRetries: number;
  maxConcurrency: number;
  temperature?: number;
  maxTokens?: number;
  usage?: UsageSink;
  backoff?: BackoffOptions;
  /** The endpoint's name in the campaign config, for messages and metrics (default: the base URL). */
  endpointName?: string;
  /** Deadline of the TCP connection made while the endpoint is not known to answer (default 5000). */
  connectTimeoutMs?: number;
  /** Deadline for the response headers of each attempt, capped by timeoutMs (default: timeoutMs). */
  firstByteTimeoutMs?: number;
  /**
   * Unreachable attempts in a row (refused, no connection, no response headers), counted across every
   * client of the endpoint in this process, after which a request fails as "unavailable" instead of
   * retrying (default: no limit).
   */
  attemptBudget?: number;
  /**
   * Whose requests these are (the campaign id): each campaign's requests to a URL are capped by its
   * own maxConcurrency and share the URL's slots round-robin with other campaigns on the worker
   * (src/llm/endpointLimiter.ts); its metrics carry it as the `campaign` label. Default "": clients
   * of no campaign share one share.
   */
  tenant?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** vLLM (and most self-hosted servers) accept any key; OpenAI-compatible clients send a non-empty one. */
const PLACEHOLDER_API_KEY = "EMPTY";

type Json = Record<string, unknown>;

/**
 * The chat completion body we send, checked by the compiler against the official `openai` SDK's
 * parameter types (a type-only import: nothing of the SDK is loaded or run), so a field we name or
 * shape differently from the API fails the build. vLLM's extensions go in through `extraBody`.
 */
type ChatBody = ChatCompletionCreateParamsNonStreaming & Json;

/** (campaign, role, endpoint) whose stripped thoughts were already announced in this process's log. */
const thoughtNoticesGiven = new Set<string>();

/** Parsed response bodies the simulator answered: how the mark reaches chat() without becoming a body field. */
const simulatorBodies = new WeakSet<object>();

/** One failed HTTP attempt, before the retry loop decides what to do with it. */
class AttemptFailure extends Error {
  /**
   * The endpoint did not answer at all: no connection, or no response headers in time. Counted
   * against the endpoint's attempt budget. `suspect`: the connection broke before any answer
   * (refused or reset), so the next attempt checks the endpoint can be connected to first.
   */
  unreachable = false;
  suspect = false;
  /** An HTTP error answered by the simulator (its headers carry the mark). */
  fromSimulator = false;
  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    readonly status?: number,
    readonly retryAfter?: number,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** One deadline timer per endpoint, shared like the limiter. */
const deadlineTimers = new Map<string, DeadlineTimer>();
function deadlineTimerFor(baseUrl: string): DeadlineTimer {
  const key = normaliseBaseUrl(baseUrl);
  let t = deadlineTimers.get(key);
  if (!t) {
    t = new DeadlineTimer();
    deadlineTimers.set(key, t);
  }
  return t;
}

/**
 * What stopped an attempt from our side: its deadline (before or after the response headers) or the
 * caller's signal. It is both the attempt's deadline entry and its member of the signal's AbortSet.
 */
class AttemptGuard implements Deadline, Abortable {
  at: number;
  headersReceived = false;
  stopped: "timeout" | "noFirstByte" | "aborted" | undefined;
  cancel: ((reason: Error) => void) | undefined;

  constructor(
    readonly startedAt: number,
    private readonly timeoutMs: number,
    private readonly firstByteTimeoutMs: number,
  ) {
    this.at = startedAt + Math.min(timeoutMs, firstByteTimeoutMs);
  }

  /** Headers in: only the whole request's deadline applies now. */
  readonly onHeaders = (): void => {
    this.headersReceived = true;
    this.at = this.startedAt + this.timeoutMs;
  };

  expire(): void {
    if (this.stopped) return;
    // Non-streaming responses send their headers when the completion is done, so the first-byte
    // deadline bounds the server's silence, generation included: it tells a hung server from a slow body.
    this.stopped = !this.headersReceived && this.firstByteTimeoutMs < this.timeoutMs ? "noFirstByte" : "timeout";
    this.cancel?.(new Error(this.stopped === "noFirstByte" ? "no response headers" : "timeout"));
  }

  abort(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = "aborted";
    this.cancel?.(reason instanceof Error ? reason : new Error("aborted"));
  }
}

/**
 * The metric label sets of one client, each made once: every attempt records four metrics. Never
 * changed after they are made (prom-client keeps the first object it sees for a label set).
 */
type Labels<K extends string> = { campaign: string; role: string; endpoint: string } & Record<K, string>;

class MetricLabels {
  readonly promptTokens: Labels<"direction">;
  readonly completionTokens: Labels<"direction">;
  readonly thoughtsStripped: { campaign: string; role: string; endpoint: string };
  private readonly requests = new Map<string, Labels<"outcome" | "simulated">>();
  private readonly durations = new Map<string, Labels<"outcome">>();
  private readonly failures = new Map<string, Labels<"kind">>();

  /** `campaign`: whose requests (several campaigns share a worker, and each names its own endpoints). */
  constructor(
    private readonly campaign: string,
    private readonly role: string,
    private readonly endpoint: string,
  ) {
    this.promptTokens = { campaign, role, endpoint, direction: "prompt" };
    this.completionTokens = { campaign, role, endpoint, direction: "completion" };
    this.thoughtsStripped = { campaign, role, endpoint };
  }

  request(outcome: string, simulated: string): Labels<"outcome" | "simulated"> {
    const key = `${outcome}\n${simulated}`;
    let l = this.requests.get(key);
    if (!l) {
      l = { campaign: this.campaign, role: this.role, endpoint: this.endpoint, outcome, simulated };
      this.requests.set(key, l);
    }
    return l;
  }

  duration(outcome: string): Labels<"outcome"> {
    let l = this.durations.get(outcome);
    if (!l) {
      l = { campaign: this.campaign, role: this.role, endpoint: this.endpoint, outcome };
      this.durations.set(outcome, l);
    }
    return l;
  }

  failure(kind: string): Labels<"kind"> {
    let l = this.failures.get(kind);
    if (!l) {
      l = { campaign: this.campaign, role: this.role, endpoint: this.endpoint, kind };
      this.failures.set(kind, l);
    }
    return l;
  }
}

export class LlmClient {
  readonly role: string;
  readonly model: string;
  readonly baseUrl: string;
  private readonly transport: HttpTransport;
  private readonly deadlines: DeadlineTimer;
  private readonly headers: Record<string, string>;
  private readonly limit: Slots;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly temperature: number | undefined;
  private readonly maxTokens: number | undefined;
  private readonly usage: UsageSink | undefined;
  private readonly backoff: BackoffOptions;
  /** Responses this client received from the LLM simulator (it marks each one), for provenance. */
  simulatedResponses = 0;
  /** Answers whose leading `<think>` block was cut from the content (a reasoning model served without a reasoning parser). */
  thoughtsStripped = 0;
  private readonly endpointName: string;
  private readonly connectTimeoutMs: number;
  private readonly firstByteTimeoutMs: number;
  private readonly attemptBudget: number;
  private readonly health: EndpointHealth;
  private readonly labels: MetricLabels;

  constructor(opts: LlmClientOptions) {
    requireOption(typeof opts.baseUrl === "string" && /^https?:\/\/./.test(opts.baseUrl), "baseUrl", "an http(s) URL", opts.baseUrl);
    requireOption(typeof opts.model === "string" && opts.model !== "", "model", "a non-empty string", opts.model);
    requireOption(typeof opts.role === "string" && opts.role !== "", "role", "a non-empty string", opts.role);
    requireOption(Number.isInteger(opts.timeoutMs) && opts.timeoutMs > 0, "timeoutMs", "a positive integer", opts.timeoutMs);
    requireOption(Number.isInteger(opts.maxRetries) && opts.maxRetries >= 0, "maxRetries", "a non-negative integer", opts.maxRetries);
    requireOption(Number.isInteger(opts.maxConcurrency) && opts.maxConcurrency > 0, "maxConcurrency", "a positive integer", opts.maxConcurrency);
    const positiveOrAbsent = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v > 0);
    requireOption(positiveOrAbsent(opts.connectTimeoutMs), "connectTimeoutMs", "a positive integer", opts.connectTimeoutMs);
    requireOption(positiveOrAbsent(opts.firstByteTimeoutMs), "firstByteTimeoutMs", "a positive integer", opts.firstByteTimeoutMs);
    requireOption(positiveOrAbsent(opts.attemptBudget), "attemptBudget", "a positive integer", opts.attemptBudget);
    const backoff = opts.backoff ?? DEFAULT_BACKOFF;
    requireOption(Number.isFinite(backoff.baseMs) && backoff.baseMs >= 0, "backoff.baseMs", "a non-negative number", backoff.baseMs);
    requireOption(Number.isFinite(backoff.maxMs) && backoff.maxMs >= backoff.baseMs, "backoff.maxMs", "a number >= backoff.baseMs", backoff.maxMs);

    this.role = opts.role;
    this.model = opts.model;
    this.baseUrl = opts.baseUrl;
    this.timeoutMs = opts.timeoutMs;
    this.maxRetries = opts.maxRetries;
    this.temperature = opts.temperature;
    this.maxTokens = opts.maxTokens;
    this.usage = opts.usage;
    this.backoff = backoff;
    this.endpointName = opts.endpointName ?? opts.baseUrl;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.firstByteTimeoutMs = Math.min(opts.firstByteTimeoutMs ?? opts.timeoutMs, opts.timeoutMs);
    this.attemptBudget = opts.attemptBudget ?? Number.POSITIVE_INFINITY;
    this.health = endpointHealth(opts.baseUrl);
    this.labels = new MetricLabels(opts.tenant ?? "", this.role, this.endpointName);
    this.limit = endpointLimiter(opts.baseUrl, opts.maxConcurrency, opts.tenant ?? "");
    this.transport = new HttpTransport(opts.baseUrl);
    this.deadlines = deadlineTimerFor(opts.baseUrl);
    // Nothing from the environment (OPENAI_ORG_ID etc.) leaks into requests to self-hosted servers.
    this.headers = {
      "content-type": "application/json",
      accept: "application/json",
      authorization: `Bearer ${opts.apiKey ?? PLACEHOLDER_API_KEY}`,
    };
  }

  async chat(req: ChatRequest, opts: CallOptions = {}): Promise<ChatResult> {
    const body: ChatBody = { model: this.model, messages: req.messages };
    const temperature = req.temperature ?? this.temperature;
    if (temperature !== undefined) body.temperature = temperature;
    const maxTokens = req.maxTokens ?? this.maxTokens;
    if (maxTokens !== undefined) body.max_tokens = maxTokens;
    if (req.tools !== undefined) body.tools = req.tools;
    if (req.toolChoice !== undefined) body.tool_choice = req.toolChoice;
    if (req.seed !== undefined) body.seed = req.seed;
    if (req.logprobs !== undefined) body.logprobs = req.logprobs;
    if (req.responseFormat !== undefined) {
      body.response_format = { type: "json_schema", json_schema: { name: req.responseFormat.name, schema: req.responseFormat.schema, strict: true } };
    }
    Object.assign(body, req.extraBody);

    const json = await this.request("/chat/completions", body, opts.signal, chatResponseProblem);
    const choice = (json.choices as Json[])[0] as Json;
    const message = choice.message as Json;
    // Every role's answer is what follows a reasoning model's thought; the reasoning fields are never read into it.
    const answer = stripLeadingThought(typeof message.content === "string" ? withoutNul(message.content) : null);
    const result: ChatResult = {
      message: { content: answer.content },
      finishReason: typeof choice.finish_reason === "string" ? choice.finish_reason : "unknown",
      usage: tokenUsage(json),
      model: typeof json.model === "string" ? json.model : this.model,
      simulated: simulatorBodies.has(json),
      raw: json,
    };
    if (answer.stripped) {
      result.thought = answer.stripped === "closed" ? "stripped" : "unclosed";
      this.countThoughtStripped();
    } else if (hasSeparateThought(message)) result.thought = "separate";
    if (Array.isArray(message.tool_calls) && message.tool_calls.length > 0) {
      result.message.tool_calls = (message.tool_calls as Json[]).map(toToolCall);
    }
    return result;
  }

  /** Counted for the operator (a metric, and one line per campaign, role and endpoint in this process's log). */
  private countThoughtStripped(): void {
    this.thoughtsStripped++;
    llmThoughtsStripped.inc(this.labels.thoughtsStripped);
    const key = JSON.stringify([this.labels.thoughtsStripped.campaign, this.role, this.endpointName]);
    if (thoughtNoticesGiven.has(key)) return;
    thoughtNoticesGiven.add(key);
    const campaign = this.labels.thoughtsStripped.campaign;
    console.log(
      `[llm] ${campaign ? `campaign ${campaign}: ` : ""}${this.describe()} answers with its reasoning in the content (<think>...</think>: served without vLLM's --reasoning-parser?); ` +
        "the thought is cut from every answer and never stored; counted in toolloop_llm_thoughts_stripped_total",
    );
  }

  /**
   * Asks for JSON matching `req.responseFormat` and validates it with `schema`. An unusable reply is
   * shown back to the model with exactly what was wrong, up to `maxRepairs` times (default 2);
   * then LlmError "bad_response". With `exactIntegers` the reply is read by parseJsonExact (an integer
   * a double cannot hold is a bigint), for a schema whose values are written again (a tool result).
   * `onAnswer` is handed the reply the value was read from.
   */
  async structured<T>(
    req: ChatRequest & { responseFormat: { name: string; schema: Record<string, unknown> } },
    schema: z.ZodType<T>,
    opts: CallOptions & { maxRepairs?: number; exactIntegers?: boolean; onAnswer?: (reply: ChatResult) => void } = {},
  ): Promise<T> {
    const maxRepairs = opts.maxRepairs ?? 2;
    if (!Number.isInteger(maxRepairs) || maxRepairs < 0) {
      throw new LlmError("client", `structured(): maxRepairs must be a non-negative integer, got ${String(maxRepairs)}`);
    }
    const messages: ChatMessage[] = [...req.messages];
    let problem = "";
    let cutOff = false;
    // Whether the last unusable reply was the simulator's (reports mark what it answered, read or not).
    let fromSimulator = false;
    for (let attempt = 0; attempt <= maxRepairs; attempt++) {
      const res = await this.chat({ ...req, messages }, { signal: opts.signal });
      fromSimulator = res.simulated;
      const checked = parseStructured(res.message.content, schema, opts.exactIntegers === true);
      if (checked.ok) {
        // The reply the value was read from (who answered: the simulator marks its replies).
        opts.onAnswer?.(res);
        return checked.value;
      }
      // A reasoning model that only thought (often cut off while thinking) gave no answer at all.
      const parseProblem =
        res.thought !== undefined && (res.message.content ?? "").trim() === ""
          ? "the reply held only the model's reasoning, no answer after it"
          : checked.problem;
      // Cut off by the token limit, the JSON is broken because it is incomplete: say so, and which limit.
      cutOff = res.finishReason === "length";
      problem = cutOff ? cutOffProblem(req.maxTokens ?? this.maxTokens, parseProblem) : parseProblem;
      messages.push(
        { role: "assistant", content: res.message.content ?? "" },
        {
          role: "user",
          content: `Your reply could not be used: ${problem}. Reply again with only a JSON value that matches the "${req.responseFormat.name}" schema, with no other text.`,
        },
      );
    }
    throw new LlmError(
      "bad_response",
      `${this.describe()}: no valid "${req.responseFormat.name}" reply after ${maxRepairs + 1} attempts; last problem: ${problem}` +
        (cutOff ? `; raise roles.${this.role}.maxTokens if the answer needs more` : ""),
      { fromSimulator },
    );
  }

  /**
   * Log-probabilities of every prompt token, via vLLM's `/completions` extension `prompt_logprobs: 0`
   * (one entry per prompt token; the first is null because nothing precedes it, so its text is "").
   */
  async promptLogprobs(prompt: string, opts: CallOptions = {}): Promise<{ tokens: string[]; logprobs: (number | null)[] }> {
    if (typeof prompt !== "string" || prompt === "") throw new LlmError("client", "promptLogprobs(): prompt must be a non-empty string");
    const body: Json = { model: this.model, prompt, max_tokens: 1, temperature: 0, prompt_logprobs: 0 };
    const json = await this.request("/completions", body, opts.signal, completionResponseProblem);
    const choice = (json.choices as Json[])[0] as Json;
    // Completions carry it per choice; vLLM's chat endpoint puts it at the top level.
    const entries = choice.prompt_logprobs ?? json.prompt_logprobs;
    if (!Array.isArray(entries)) {
      throw new LlmError(
        "bad_response",
        `${this.describe()}: response has no choices[0].prompt_logprobs list; the endpoint must support vLLM's prompt_logprobs`,
      );
    }
    const tokens: string[] = [];
    const logprobs: (number | null)[] = [];
    entries.forEach((entry: unknown, i) => {
      if (entry === null) {
        tokens.push("");
        logprobs.push(null);
        return;
      }
      const where = `prompt_logprobs[${i}]`;
      if (typeof entry !== "object" || Array.isArray(entry)) throw new LlmError("bad_response", `${this.describe()}: ${where} is not an object or null`);
      const candidates = Object.values(entry as Json);
      // With prompt_logprobs: 0 the server returns only the prompt's own token; more would be ambiguous.
      if (candidates.length !== 1) {
        throw new LlmError(
          "bad_response",
          `${this.describe()}: ${where} has ${candidates.length} entries; expected exactly the prompt token (prompt_logprobs: 0)`,
        );
      }
      const c = candidates[0] as Json | null;
      if (!c || typeof c !== "object" || typeof c.logprob !== "number") {
        throw new LlmError("bad_response", `${this.describe()}: ${where} lacks a numeric logprob`);
      }
      tokens.push(typeof c.decoded_token === "string" ? c.decoded_token : "");
      logprobs.push(c.logprob);
    });
    return { tokens, logprobs };
  }

  /**
   * vLLM's `POST /tokenize` (served at the server root, beside `/v1`): the token ids the chat template
   * makes of `messages` (and `tools`), with or without the generation prompt. With `returnTokenStrs`
   * also each token's string (vLLM 0.9.1 and later: the tokenizer's own piece, a special token as
   * written, e.g. `<|im_end|>`); `tokenStrs` is undefined when not asked for or not returned.
   */
  async tokenizeChat(
    req: { messages: ChatMessage[]; tools?: OpenAiTool[]; addGenerationPrompt: boolean; continueFinalMessage?: boolean; returnTokenStrs?: boolean },
    opts: CallOptions = {},
  ): Promise<{ tokens: number[]; tokenStrs: string[] | undefined }> {
    const body: Json = {
      model: this.model,
      messages: req.messages,
      add_generation_prompt: req.addGenerationPrompt,
      continue_final_message: req.continueFinalMessage ?? false,
    };
    if (req.tools !== undefined) body.tools = req.tools;
    if (req.returnTokenStrs) body.return_token_strs = true;
    const json = await this.request(serverRootUrl(this.baseUrl) + "/tokenize", body, opts.signal, tokenizeResponseProblem);
    return { tokens: json.tokens as number[], tokenStrs: req.returnTokenStrs && Array.isArray(json.token_strs) ? (json.token_strs as string[]) : undefined };
  }

  /**
   * vLLM's `POST /tokenize` of text (`prompt`, no chat template): the tokenizer's ids, a special token
   * written in the text (`<|channel|>`) read as that token. `addSpecialTokens: false` adds no BOS, for
   * text that continues other tokens.
   */
  async tokenizeText(
    text: string,
    req: { addSpecialTokens: boolean; returnTokenStrs?: boolean },
    opts: CallOptions = {},
  ): Promise<{ tokens: number[]; tokenStrs: string[] | undefined }> {
    if (typeof text !== "string" || text === "") throw new LlmError("client", "tokenizeText(): text must be a non-empty string");
    const body: Json = { model: this.model, prompt: text, add_special_tokens: req.addSpecialTokens };
    if (req.returnTokenStrs) body.return_token_strs = true;
    const json = await this.request(serverRootUrl(this.baseUrl) + "/tokenize", body, opts.signal, tokenizeResponseProblem);
    return { tokens: json.tokens as number[], tokenStrs: req.returnTokenStrs && Array.isArray(json.token_strs) ? (json.token_strs as string[]) : undefined };
  }

  /**
   * vLLM's `/completions` with the prompt given as token ids (scored as given, never re-tokenized),
   * `prompt_logprobs: 0`, one greedy token: the raw response, whose `choices[0].prompt_logprobs` has
   * one entry per prompt token (the first null).
   */
  async scoreTokens(tokenIds: readonly number[], opts: CallOptions = {}): Promise<Json> {
    if (!(Array.isArray(tokenIds) && tokenIds.length > 0 && tokenIds.every((t) => Number.isInteger(t) && t >= 0)))
      throw new LlmError("client", "scoreTokens(): tokenIds must be a non-empty list of token ids");
    const body: Json = { model: this.model, prompt: [...tokenIds], max_tokens: 1, temperature: 0, prompt_logprobs: 0 };
    return this.request("/completions", body, opts.signal, completionResponseProblem);
  }

  /** Embeddings in input order. */
  async embed(input: string[], opts: CallOptions = {}): Promise<number[][]> {
    if (!Array.isArray(input) || input.some((s) => typeof s !== "string")) throw new LlmError("client", "embed(): input must be an array of strings");
    if (input.length === 0) return [];
    // encoding_format is explicit: the SDK would otherwise ask for base64.
    const body: Json = { model: this.model, input, encoding_format: "float" };
    const json = await this.request("/embeddings", body, opts.signal, (j) => (Array.isArray(j.data) ? undefined : "response has no `data` list"));
    const rows = json.data as unknown[];
    if (rows.length !== input.length) throw new LlmError("bad_response", `${this.describe()}: ${rows.length} embeddings for ${input.length} inputs`);
    const out: number[][] = new Array<number[]>(input.length);
    rows.forEach((row, i) => {
      const r = row as Json | null;
      const index = typeof r?.index === "number" ? r.index : i;
      const vec = r?.embedding;
      if (!Array.isArray(vec) || vec.some((x) => typeof x !== "number"))
        throw new LlmError("bad_response", `${this.describe()}: data[${i}].embedding is not a list of numbers`);
      if (!Number.isInteger(index) || index < 0 || index >= input.length || out[index] !== undefined) {
        throw new LlmError("bad_response", `${this.describe()}: data[${i}].index ${String(index)} is out of range or repeated`);
      }
      out[index] = vec as number[];
    });
    return out;
  }

  private describe(): string {
    return `LLM ${this.role} (${this.model} at endpoint ${this.endpointName === this.baseUrl ? this.baseUrl : `${this.endpointName}, ${this.baseUrl}`})`;
  }

  /**
   * POSTs `body` with retries. `problemOf` inspects a parsed 200 body and names what makes it
   * unusable as a transport-level response (e.g. no `choices`); such replies are retried like 5xx.
   */
  private async request(path: string, body: Json, signal: AbortSignal | undefined, problemOf: (json: Json) => string | undefined): Promise<Json> {
    // Serialised and encoded once for every attempt.
    // stringifyJson: JSON.stringify, or every digit where a tool schema records an exact integer.
    const text = Buffer.from(stringifyJson(body));
    let attempts = 0;
    for (;;) {
      if (signal?.aborted) throw this.abortedError(signal, attempts);
      let failure: AttemptFailure;
      try {
        // withSlot, inlined: one async frame fewer on every request.
        const waiting = this.limit.acquire(signal);
        if (waiting) await waiting;
        try {
          if (signal?.aborted) throw this.abortedError(signal, attempts);
          attempts++;
          return await this.attempt(path, text, signal, problemOf);
        } finally {
          this.limit.release();
        }
      } catch (err) {
        if (signal?.aborted) throw this.abortedError(signal, attempts);
        if (!(err instanceof AttemptFailure)) throw err;
        failure = err;
      }
      const retriesLeft = this.maxRetries - (attempts - 1);
      const streak = failure.unreachable ? this.health.unreachable() : this.health.consecutiveUnreachable;
      if (failure.unreachable && streak >= this.attemptBudget) {
        llmFailures.inc(this.labels.failure("unavailable"));
        throw new LlmError(
          "unavailable",
          `endpoint ${this.endpointName} (${this.baseUrl}) is unavailable for role ${this.role}: ${streak === 1 ? "1 attempt" : `${streak} attempts`} in a row got no answer ` +
            `(attemptBudget ${this.attemptBudget})${streak > this.attemptBudget ? ", attempts already in flight when it was reached counted too" : ""}; last: ${path}: ${failure.message}`,
          { attempts, cause: failure.cause },
        );
      }
      if (failure.kind === "client" || retriesLeft <= 0) {
        const after = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
        llmFailures.inc(this.labels.failure(failure.kind));
        throw new LlmError(failure.kind, `${this.describe()} ${path}: ${failure.message} (after ${after})`, {
          status: failure.status,
          attempts,
          cause: failure.cause,
          fromSimulator: failure.fromSimulator,
        });
      }
      const delay = failure.retryAfter ?? backoffDelayMs(attempts - 1, this.backoff);
      try {
        await sleep(delay, signal);
      } catch {
        throw this.abortedError(signal as AbortSignal, attempts);
      }
    }
  }

  /**
   * One HTTP call, inside a concurrency slot. Announced to the usage sink before it is sent (a
   * ledger failing to record it fails the call unsent) and recorded once its outcome is known.
   */
  private async attempt(path: string, text: Buffer, userSignal: AbortSignal | undefined, problemOf: (json: Json) => string | undefined): Promise<Json> {
    if (userSignal?.aborted) throw new AttemptFailure("aborted", "aborted", undefined, undefined, userSignal.reason);
    // Not known to answer (first contact, or it stopped answering): check it accepts connections at all,
    // so a dead host fails in connectTimeoutMs instead of the whole request timeout. Nothing was sent.
    if (!this.health.reachable) await this.probe(userSignal);
    const requestId = randomUUID();
    const start = { requestId, role: this.role, model: this.model };
    const announced = this.usage?.sending?.(start);
    if (announced) await announced;
    // Aborted while being announced: never sent, so taken back out of the ledger.
    if (userSignal?.aborted) {
      this.usage?.withdrawn?.(start);
      throw new AttemptFailure("aborted", "aborted", undefined, undefined, userSignal.reason);
    }
    const guard = new AttemptGuard(performance.now(), this.timeoutMs, this.firstByteTimeoutMs);
    const abortSet = userSignal ? abortSetOf(userSignal) : undefined;
    let simulatedLabel = "unknown";
    let outcome = "ok";
    try {
      const pending = this.transport.post(path, text, { ...this.headers, "x-request-id": requestId }, guard.onHeaders);
      guard.cancel = pending.cancel;
      this.deadlines.add(guard);
      abortSet?.add(guard);
      const response = await pending.response;
      // Any status is an answer: the endpoint is up.
      this.health.answered();
      const simulated = isSimulatorResponse(response.headers, undefined);
      simulatedLabel = simulated ? "true" : "false";
      if (response.status < 200 || response.status > 299) throw this.httpFailure(response.status, response.headers, response.text, simulated);
      // An unusable 200 from the simulator is its own (its HTTP fault cuts the body short): marked so in the
      // ledger and the error, by its headers alone, as a cut body has no fingerprint to read.
      const unusable = (what: string) => {
        const fault = simulated ? response.headers.get(SIMULATOR_FAULT_HEADER) : null;
        const failure = new AttemptFailure(
          "server",
          `HTTP ${response.status} ${what}${fault ? ` (the simulator's ${fault} fault)` : ""}: ${preview(response.text)}`,
          response.status,
        );
        failure.fromSimulator = simulated;
        return failure;
      };
      let json: unknown;
      try {
        json = JSON.parse(response.text);
      } catch {
        throw unusable("body is not JSON");
      }
      if (json === null || typeof json !== "object" || Array.isArray(json)) throw unusable("body is not a JSON object");
      const problem = problemOf(json as Json);
      if (problem !== undefined) throw unusable(problem);
      const usage = tokenUsage(json as Json);
      const simulatedBody = simulated || isSimulatorResponse(undefined, json);
      if (simulatedBody) this.simulatedResponses++;
      this.record(requestId, usage.promptTokens, usage.completionTokens, false, simulatedBody);
      if (simulatedBody) simulatorBodies.add(json);
      llmTokens.inc(this.labels.promptTokens, usage.promptTokens);
      llmTokens.inc(this.labels.completionTokens, usage.completionTokens);
      return json as Json;
    } catch (err) {
      let failure: AttemptFailure;
      if (err instanceof AttemptFailure) failure = err;
      else if (guard.stopped === "aborted" || userSignal?.aborted) failure = new AttemptFailure("aborted", "aborted", undefined, undefined, err);
      else if (guard.stopped === "noFirstByte" || (guard.stopped === "timeout" && !guard.headersReceived)) {
        // Silent until a deadline (the first-byte one, or the whole request's when that is shorter).
        const [ms, field] = guard.stopped === "noFirstByte" ? [this.firstByteTimeoutMs, "firstByteTimeoutMs"] : [this.timeoutMs, "timeoutMs"];
        failure = new AttemptFailure("timeout", `connected, but no response headers within ${ms} ms (${field})`, undefined, undefined, err);
        // Unreachable only if the endpoint answered nobody meanwhile: one hung request on a live server is a timeout.
        failure.unreachable = !this.health.answeredSince(guard.startedAt);
      } else if (guard.stopped === "timeout") {
        failure = new AttemptFailure("timeout", `no complete response within ${this.timeoutMs} ms`, undefined, undefined, err);
      } else {
        // The exchange broke: refused, reset, or cut off mid-body.
        const where = err instanceof TransportError && err.headersReceived ? "request failed" : "connection failed";
        failure = new AttemptFailure("network", `${where}: ${causeMessage(err)}`, undefined, undefined, err);
        // Broken before any answer (refused, reset): the next attempt checks the endpoint first.
        if (!guard.headersReceived) failure.suspect = true;
      }
      if (failure.suspect) this.health.suspect();
      outcome = failure.unreachable ? "unreachable" : failure.kind;
      // Given up by the caller while in flight: whether the server got it is unknown, as for a killed
      // worker, so its ledger row stays "sent" (outcome unknown) rather than claiming an outcome.
      if (failure.kind !== "aborted") this.record(requestId, 0, 0, true, failure.fromSimulator);
      throw failure;
    } finally {
      this.deadlines.delete(guard);
      abortSet?.delete(guard);
      llmRequests.inc(this.labels.request(outcome, simulatedLabel));
      llmRequestDuration.observe(this.labels.duration(outcome), (performance.now() - guard.startedAt) / 1000);
    }
  }

  /** An HTTP error status: its kind, the server's own message, and Retry-After for retryable ones. */
  private httpFailure(status: number, headers: HeaderReader, text: string, simulated: boolean): AttemptFailure {
    const kind = kindForStatus(status);
    const retryAfter = kind === "client" ? undefined : retryAfterMs(headers, this.backoff.maxMs * 4);
    const failure = new AttemptFailure(kind, `HTTP ${status}: ${errorMessageOf(text)}`, status, retryAfter);
    failure.fromSimulator = simulated;
    return failure;
  }

  /** The connect check of an endpoint not known to answer; its failure counts against the attempt budget. */
  private async probe(userSignal: AbortSignal | undefined): Promise<void> {
    try {
      await probeConnect(this.baseUrl, this.connectTimeoutMs, userSignal);
    } catch (err) {
      if (userSignal?.aborted) throw new AttemptFailure("aborted", "aborted", undefined, undefined, userSignal.reason);
      if (!(err instanceof ConnectProbeError)) throw err;
      const failure = new AttemptFailure(err.reason === "timeout" ? "timeout" : "network", err.message, undefined, undefined, err);
      failure.unreachable = true;
      llmRequests.inc(this.labels.request("unreachable", "unknown"));
      throw failure;
    }
  }

  private abortedError(signal: AbortSignal, attempts: number): LlmError {
    const reason: unknown = signal.reason;
    const why = reason instanceof Error ? `: ${reason.message}` : typeof reason === "string" ? `: ${reason}` : "";
    return new LlmError("aborted", `${this.describe()}: aborted${why}`, { attempts, cause: reason });
  }

  // Usage is keyed by the configured model (what the campaign asked for), not the name the server echoes.
  private record(requestId: string, promptTokens: number, completionTokens: number, failed: boolean, simulated: boolean): void {
    this.usage?.record({ requestId, role: this.role, model: this.model, promptTokens, completionTokens, failed, simulated });
  }
}

/**
 * Builds the client for `role` from the campaign config (endpoint, model, key: src/llm/roles.ts).
 * A role that cannot be resolved is an LlmError of kind "client": retrying cannot fix it.
 */
export function createRoleClient(
  config: CampaignConfig,
  role: string,
  opts: { usage?: UsageSink; env?: NodeJS.ProcessEnv; /** The campaign id: its share of the endpoint's slots. */ tenant?: string } = {},
): LlmClient {
  let r: ResolvedRole;
  try {
    r = resolveRole(config, role, opts.env);
  } catch (err) {
    if (err instanceof RoleResolutionError) throw new LlmError("client", err.message);
    throw err;
  }
  return new LlmClient({
    baseUrl: r.endpoint.baseUrl,
    apiKey: r.apiKey ?? PLACEHOLDER_API_KEY,
    model: r.roleConfig.model,
    role,
    timeoutMs: r.endpoint.timeoutMs,
    maxRetries: r.endpoint.maxRetries,
    endpointName: r.endpointName,
    connectTimeoutMs: r.endpoint.connectTimeoutMs ?? ENDPOINT_FAIL_FAST_DEFAULTS.connectTimeoutMs,
    firstByteTimeoutMs: r.endpoint.firstByteTimeoutMs ?? ENDPOINT_FAIL_FAST_DEFAULTS.firstByteTimeoutMs,
    attemptBudget: r.endpoint.attemptBudget ?? ENDPOINT_FAIL_FAST_DEFAULTS.attemptBudget,
    maxConcurrency: campaignLimitFor(config, r.endpoint),
    temperature: r.roleConfig.temperature,
    maxTokens: r.roleConfig.maxTokens,
    usage: opts.usage,
    tenant: opts.tenant,
  });
}

/**
 * The campaign's limit for the endpoint's URL: the lowest maxConcurrency of the config's endpoints at
 * that URL (two names for one server), so every role client of the campaign asks the shared limiter
 * for the same number whatever order they are made in.
 */
function campaignLimitFor(config: CampaignConfig, endpoint: { baseUrl: string; maxConcurrency: number }): number {
  const url = normaliseBaseUrl(endpoint.baseUrl);
  let limit = endpoint.maxConcurrency;
  for (const e of Object.values(config.endpoints)) if (normaliseBaseUrl(e.baseUrl) === url && e.maxConcurrency < limit) limit = e.maxConcurrency;
  return limit;
}

function requireOption(ok: boolean, field: string, expected: string, got: unknown): void {
  if (!ok) throw new LlmError("client", `LlmClient option ${field}: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
}

function chatResponseProblem(json: Json): string | undefined {
  const problem = completionResponseProblem(json);
  if (problem) return problem;
  const message = ((json.choices as unknown[])[0] as Json).message;
  if (!message || typeof message !== "object") return "response has no choices[0].message";
  const calls = (message as Json).tool_calls;
  if (calls !== undefined && calls !== null) {
    if (!Array.isArray(calls)) return "choices[0].message.tool_calls is not a list";
    const bad = calls.findIndex(
      (c: unknown) => typeof (c as Json | null)?.function !== "object" || typeof ((c as Json).function as Json | null)?.name !== "string",
    );
    if (bad >= 0) return `choices[0].message.tool_calls[${bad}] has no function.name`;
  }
  return undefined;
}

function tokenizeResponseProblem(j: Json): string | undefined {
  if (!(Array.isArray(j.tokens) && j.tokens.every((t) => Number.isInteger(t)))) return "response has no `tokens` list of integers";
  if (j.token_strs == null) return undefined;
  if (!(Array.isArray(j.token_strs) && j.token_strs.every((t) => typeof t === "string"))) return "response's `token_strs` is not a list of strings";
  if (j.token_strs.length !== j.tokens.length) return `response has ${j.token_strs.length} token_strs for ${j.tokens.length} tokens`;
  return undefined;
}

function completionResponseProblem(json: Json): string | undefined {
  if (!Array.isArray(json.choices) || json.choices.length === 0) return "response has no `choices`";
  const first: unknown = json.choices[0];
  if (!first || typeof first !== "object") return "choices[0] is not an object";
  return undefined;
}

/** Wire tool call -> ToolCall. Invalid JSON in `arguments` is kept verbatim (a NUL aside: util/nulFree.ts): verification judges it. */
function toToolCall(c: Json, i: number): ToolCall {
  const fn = c.function as Json;
  const args = fn.arguments;
  return {
    id: typeof c.id === "string" ? c.id : `call_${i}`,
    type: "function",
    function: { name: withoutNul(fn.name as string), arguments: withoutNul(typeof args === "string" ? args : args === undefined ? "" : JSON.stringify(args)) },
  };
}

function tokenUsage(json: Json): { promptTokens: number; completionTokens: number } {
  const u = json.usage as Json | null | undefined;
  const n = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
  return { promptTokens: n(u?.prompt_tokens), completionTokens: n(u?.completion_tokens) };
}

type StructuredCheck<T> = { ok: true; value: T } | { ok: false; problem: string };

/** `exactIntegers`: an integer a double cannot hold is read as a bigint (parseJsonExact), for a schema that takes one. */
function parseStructured<T>(content: string | null, schema: z.ZodType<T>, exactIntegers = false): StructuredCheck<T> {
  if (content === null || content.trim() === "") return { ok: false, problem: "the reply was empty" };
  let value: unknown;
  try {
    // An escaped NUL ("\u0000" written out) parses to a real one: replaced, as in the raw text.
    const text = stripCodeFence(content);
    const reviver = nulFreeReviverFor(text);
    value = exactIntegers ? parseJsonExact(text, reviver) : JSON.parse(text, reviver);
  } catch (err) {
    return { ok: false, problem: `the reply is not valid JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  const issues = r.error.issues.slice(0, 10).map((i) => `${formatPath(i.path)}: ${i.message}`);
  const more = r.error.issues.length > 10 ? ` (and ${r.error.issues.length - 10} more)` : "";
  return { ok: false, problem: `the JSON does not match the schema: ${issues.join("; ")}${more}` };
}

/** The problem of a structured reply the server cut off at max_tokens (finish_reason "length"): incomplete, not malformed. */
function cutOffProblem(maxTokens: number | undefined, parseProblem: string): string {
  const limit = maxTokens === undefined ? "the server's token limit" : `max_tokens ${maxTokens}`;
  return `the reply was cut off at ${limit} (finish_reason "length") before it was complete (${parseProblem})`;
}

/** Models sometimes wrap JSON in a markdown fence even when asked not to. */
function stripCodeFence(s: string): string {
  const m = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/.exec(s);
  return m?.[1] ?? s;
}

/** The message an OpenAI-compatible error body carries (`{"error": {"message"}}`, `{"error": "..."}`, `{"message"}`), else the body's start. */
function errorMessageOf(text: string): string {
  try {
    const j = JSON.parse(text) as Json | null;
    const e = j?.error;
    if (e && typeof e === "object" && typeof (e as Json).message === "string") return (e as Json).message as string;
    if (typeof e === "string") return e;
    if (typeof j?.message === "string") return j.message;
  } catch {
    // not JSON: shown as it is
  }
  return text === "" ? "(empty body)" : preview(text);
}

function preview(text: string): string {
  const t = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  return JSON.stringify(t);
}

function causeMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  return cause instanceof Error && cause.message !== err.message ? `${err.message} (${cause.message})` : err.message;
}

/** The server root of an OpenAI-compatible base URL (`http://h:8000/v1` -> `http://h:8000`), where vLLM serves /tokenize. */
export function serverRootUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
}
