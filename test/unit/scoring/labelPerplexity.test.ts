/**
 * Label perplexity: the span and PPL arithmetic, the reading of vLLM's prompt_logprobs, and the whole
 * request path against a small scripted vLLM-shaped server of this test (ChatML with Hermes tool
 * calls, one token per whitespace-separated word) whose logprobs are low on words marked "BAD".
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { toOpenAiTool, type ChatMessage, type McpTool } from "../../../src/domain/types.js";
import { LlmClient, LlmError } from "../../../src/llm/client.js";
import {
  endAtEndOfTurn,
  labelPerplexity,
  labelSpan,
  ownOutputPerplexity,
  perplexityOfAnswer,
  promptLogprobsOf,
  spanPerplexity,
  UnscorableSampleError,
} from "../../../src/scoring/labelPerplexity.js";
import { isSampleFailure } from "../../../src/stages/score/scoringBatch.js";

describe("labelSpan", () => {
  it("is the tokens the label adds after the prompt's tokens", () => {
    assert.deepEqual(labelSpan([1, 2, 3], [1, 2, 3, 4, 5]), [3, 5]);
    assert.deepEqual(labelSpan([], [7]), [0, 1]);
  });
  it("rejects a rendering where the prompt is not a prefix, naming the token", () => {
    assert.throws(() => labelSpan([1, 2, 3], [1, 9, 3, 4]), /differ at token 1/);
  });
  it("rejects a label that adds no tokens", () => {
    assert.throws(() => labelSpan([1, 2], [1, 2]), /adds no tokens/);
    assert.throws(() => labelSpan([1, 2, 3], [1, 2]), /adds no tokens/);
  });
});

describe("spanPerplexity", () => {
  it("is exp(-mean logprob) over the span only", () => {
    const lps = [null, -9, -1, -3, -7];
    const r = spanPerplexity(lps, [2, 4]);
    assert.equal(r.meanLogprob, -2);
    assert.ok(Math.abs(r.perplexity - Math.exp(2)) < 1e-12);
  });
  it("is 1 when every span token is certain", () => {
    assert.equal(spanPerplexity([null, 0, 0], [1, 3]).perplexity, 1);
  });
  it("refuses vLLM's -inf (written -9999) instead of averaging it into a perplexity of 1e144 or Infinity, as the sample's own failure", () => {
    // Before: 3 tokens with one -9999 gave Infinity (stored, and every mean of the stage null); 30 tokens gave 6e144.
    for (const lps of [
      [null, -0.2, -9999, -0.1],
      [null, ...Array<number>(29).fill(-0.1), -9999],
    ])
      assert.throws(
        () => spanPerplexity(lps, [1, lps.length]),
        (e: unknown) => e instanceof UnscorableSampleError && isSampleFailure(e) && /token 2 |token 30 /.test(e.message) && /-inf/.test(e.message),
      );
    assert.throws(
      () => spanPerplexity([null, -800, -800], [1, 3]),
      (e: unknown) => e instanceof UnscorableSampleError && /overflows/.test(e.message),
    );
    assert.ok(Number.isFinite(spanPerplexity([null, -700], [1, 2]).perplexity));
  });
  it("rejects a null or missing logprob inside the span, and empty or out-of-range spans", () => {
    assert.throws(() => spanPerplexity([null, -1], [0, 2]), /no logprob for token 0/);
    assert.throws(() => spanPerplexity([-1, -1], [1, 1]), /empty or outside/);
    assert.throws(() => spanPerplexity([-1, -1], [1, 3]), /empty or outside/);
  });
});

describe("promptLogprobsOf", () => {
  const raw = {
    prompt_logprobs: [null, { "11": { logprob: -0.5, rank: 1, decoded_token: "a" } }, { "12": { logprob: -2, rank: 3, decoded_token: "b" } }],
  };
  it("reads vLLM's top-level list, the first entry null", () => {
    assert.deepEqual(promptLogprobsOf(raw, "t"), [null, -0.5, -2]);
  });
  it("with the /tokenize ids, picks each token's own entry among alternatives", () => {
    const withAlternatives = {
      prompt_logprobs: [
        null,
        { "99": { logprob: -0.1, rank: 1, decoded_token: "z" }, "11": { logprob: -0.5, rank: 2, decoded_token: "a" } },
        { "12": { logprob: -2, rank: 1, decoded_token: "b" } },
      ],
    };
    assert.deepEqual(promptLogprobsOf(withAlternatives, "t", [10, 11, 12]), [null, -0.5, -2]);
    assert.throws(() => promptLogprobsOf(withAlternatives, "t"), /exactly the prompt token/);
  });
  it("fails as a bad response when the renderings differ by count or by token", () => {
    assert.throws(
      () => promptLogprobsOf(raw, "t", [10, 11]),
      (e: unknown) => e instanceof LlmError && e.kind === "bad_response" && /3 prompt logprobs for a prompt \/tokenize counts as 2/.test(e.message),
    );
    assert.throws(() => promptLogprobsOf(raw, "t", [10, 11, 13]), /prompt_logprobs\[2\] has no entry for token 13/);
  });
  it("fails as a bad response, naming the entry, when an entry after the first is null", () => {
    // Before: read as "no logprob", then a plain Error from the span arithmetic that failed the whole batch.
    const nullInside = { prompt_logprobs: [null, { "11": { logprob: -0.5 } }, null, { "13": { logprob: -1 } }] };
    for (const ids of [[10, 11, 12, 13], undefined])
      assert.throws(
        () => promptLogprobsOf(nullInside, "t", ids),
        (e: unknown) => e instanceof LlmError && e.kind === "bad_response" && isSampleFailure(e) && /prompt_logprobs\[2\] is null/.test(e.message),
      );
  });
  it("fails without a list or with a non-finite logprob", () => {
    assert.throws(() => promptLogprobsOf({ choices: [] }, "t"), /no prompt_logprobs list/);
    assert.throws(() => promptLogprobsOf({ prompt_logprobs: [null, { "1": { logprob: "x" } }] }, "t"), /finite numeric logprob/);
    assert.throws(() => promptLogprobsOf({ prompt_logprobs: [null, [1]] }, "t"), /not an object or null/);
  });
});

// ---- the request path against a scripted vLLM-shaped server ----

type Json = Record<string, unknown>;

/**
 * Chat templates of the scripted server: ChatML with Hermes tool calls (Qwen2.5: a newline after each
 * `<|im_end|>`), Llama 3's (nothing after `<|eot_id|>`), and one that writes no end-of-turn token.
 */
type Template = "chatml" | "llama3" | "plain" | "custom" | "harmony" | "harmony-history";
function render(messages: Json[], tools: unknown, addGenerationPrompt: boolean, template: Template = "chatml"): string {
  if (template === "harmony" || template === "harmony-history") return renderHarmony(messages, tools, addGenerationPrompt, template === "harmony-history");
  if (template === "custom") {
    // A model whose end-of-turn token is on no built-in list, followed by a newline as ChatML's.
    const turns = messages.map((m) => `<|turn|>${String(m.role)}\n${typeof m.content === "string" ? m.content : ""}<|turn_end|>\n`).join("");
    return turns + (addGenerationPrompt ? "<|turn|>assistant\n" : "");
  }
  const open = (role: string) =>
    template === "chatml" ? `<|im_start|>${role}\n` : template === "llama3" ? `<|start_header_id|>${role}<|end_header_id|>\n\n` : `### ${role}:\n`;
  const close = template === "chatml" ? "<|im_end|>\n" : template === "llama3" ? "<|eot_id|>" : "\n\n";
  let out = template === "llama3" ? "<|begin_of_text|>" : "";
  if (tools) out += `${open("system")}# Tools ${JSON.stringify(tools)}${close}`;
  for (const m of messages) {
    const calls = ((m.tool_calls as Json[] | undefined) ?? []).map((c) => {
      const fn = c.function as Json;
      // vLLM parses the wire's JSON-string arguments before the template sees them.
      return `\n<tool_call>\n{"name": "${String(fn.name)}", "arguments": ${JSON.stringify(JSON.parse(String(fn.arguments)))}}\n</tool_call>`;
    });
    out += `${open(String(m.role))}${typeof m.content === "string" ? m.content : ""}${calls.join("")}${close}`;
  }
  return addGenerationPrompt ? out + open("assistant") : out;
}
/**
 * gpt-oss's template (openai/gpt-oss chat_template.jinja, harmony format): an assistant tool call is
 * `<|start|>assistant to=functions.NAME<|channel|>commentary json<|message|>ARGS<|call|>`, its text
 * (if any) an analysis message before it ending in `<|end|>`; the last assistant message without
 * tool calls, rendered for training (no generation prompt), ends in `<|return|>`, any other in
 * `<|end|>` (`historyForm`: a template that writes `<|end|>` there too).
 */
function renderHarmony(messages: Json[], tools: unknown, addGenerationPrompt: boolean, historyForm: boolean): string {
  let out = `<|start|>system<|message|>You are ChatGPT.<|end|>`;
  if (tools) out += `<|start|>developer<|message|># Tools ${JSON.stringify(tools)}<|end|>`;
  messages.forEach((m, i) => {
    const content = typeof m.content === "string" ? m.content : "";
    const calls = (m.tool_calls as Json[] | undefined) ?? [];
    if (m.role !== "assistant") out += `<|start|>${String(m.role)}<|message|>${content}<|end|>`;
    else if (calls.length > 0) {
      const fn = calls[0]!.function as Json;
      if (content) out += `<|start|>assistant<|channel|>analysis<|message|>${content}<|end|>`;
      out += `<|start|>assistant to=functions.${String(fn.name)}<|channel|>commentary json<|message|>${String(fn.arguments)}<|call|>`;
    } else {
      const last = i === messages.length - 1 && !addGenerationPrompt && !historyForm;
      out += `<|start|>assistant<|channel|>final<|message|>${content}${last ? "<|return|>" : "<|end|>"}`;
    }
  });
  return addGenerationPrompt ? out + "<|start|>assistant" : out;
}

/**
 * SIMULATED: what vLLM's chat endpoint feeds a gpt-oss model (vllm/entrypoints/openai: `use_harmony`
 * when the model type is gpt_oss, `_make_request_with_harmony` -> openai-harmony's
 * `render_conversation_for_completion`). Not the chat template: its own system message, the chat's
 * system message as the developer message's instructions, every message closed by `<|end|>` (a tool
 * call by `<|call|>`), and `<|start|>assistant` appended whatever `add_generation_prompt` says. Only
 * the shape matters here: it differs from `renderHarmony`, as the real two do.
 */
function renderVllmHarmony(messages: Json[], tools: unknown): string {
  let out = `<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nReasoning: medium<|end|>`;
  const system = messages.filter((m) => m.role === "system").map((m) => String(m.content));
  const instructions = system.length > 0 ? `# Instructions\n\n${system.join("\n")}` : "";
  if (instructions || tools) out += `<|start|>developer<|message|>${instructions}${tools ? `\n\n# Tools ${JSON.stringify(tools)}` : ""}<|end|>`;
  const names = new Map<string, string>();
  for (const m of messages) {
    const content = typeof m.content === "string" ? m.content : "";
    const calls = (m.tool_calls as Json[] | undefined) ?? [];
    if (m.role === "system") continue;
    if (m.role === "tool") out += `<|start|>functions.${names.get(String(m.tool_call_id)) ?? ""} to=assistant<|channel|>commentary<|message|>${content}<|end|>`;
    else if (m.role !== "assistant") out += `<|start|>${String(m.role)}<|message|>${content}<|end|>`;
    else if (calls.length > 0) {
      if (content) out += `<|start|>assistant<|channel|>commentary<|message|>${content}<|end|>`;
      for (const c of calls) {
        const fn = c.function as Json;
        names.set(String(c.id), String(fn.name));
        out += `<|start|>assistant to=functions.${String(fn.name)}<|channel|>commentary json<|message|>${String(fn.arguments)}<|call|>`;
      }
    } else out += `<|start|>assistant<|channel|>final<|message|>${content}<|end|>`;
  }
  return out + "<|start|>assistant";
}

/**
 * One token per special token (`<|...|>`, whole, as a tokenizer's added tokens), per newline, per run
 * of other spaces, per run of other non-space characters: a turn boundary is a token boundary.
 */
const pieces = (text: string) => text.match(/<\|[a-z_]+\|>|\n|[^\S\n]+|(?:(?!<\|[a-z_]+\|>)\S)+/g) ?? [];
const idOf = (piece: string) => 100 + ([...piece].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 30000);

interface Scripted {
  baseUrl: string;
  bodies: { path: string; body: Json }[];
  close(): Promise<void>;
}

async function startScripted(
  opts: {
    chatRendersDifferently?: boolean;
    withoutPromptLogprobs?: boolean;
    template?: Template;
    withoutTokenStrs?: boolean;
    tokenStrsShort?: boolean;
    /** The chat endpoint renders as vLLM does for gpt-oss (renderVllmHarmony), not by the template /tokenize uses. */
    chatRendersHarmony?: boolean;
    /** A vLLM before `return_token_ids` (its chat response has no `prompt_token_ids`). */
    withoutPromptTokenIds?: boolean;
  } = {},
): Promise<Scripted> {
  const bodies: { path: string; body: Json }[] = [];
  // Every token id the server has handed out, to read a token-id prompt back (ids are a hash of the piece).
  const pieceOf = new Map<number, string>();
  const ids = (ps: string[]) => ps.map((p) => (pieceOf.set(idOf(p), p), idOf(p)));
  // As a real model: the template's newline after an end-of-turn token is near certain. SIMULATED for
  // gpt-oss: after a call's `<|call|>` its training text goes on with the tool's reply
  // (`<|start|>functions.NAME to=assistant`), so `assistant` there is unlikely.
  const logprobOf = (ps: string[], p: string, i: number) =>
    p === "\n" && ps[i - 1] === "<|im_end|>"
      ? -0.001
      : p === "assistant" && ps[i - 1] === "<|start|>" && ps[i - 2] === "<|call|>"
        ? -6
        : p.includes("BAD")
          ? -4
          : -0.25;
  const promptLogprobsOfPieces = (ps: string[]) =>
    ps.map((p, i) => (i === 0 ? null : { [String(idOf(p))]: { logprob: logprobOf(ps, p, i), rank: 1, decoded_token: p } }));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json;
      const path = req.url ?? "";
      bodies.push({ path, body });
      const messages = body.messages as Json[];
      let reply: Json;
      if (path === "/tokenize") {
        // vLLM's two forms: text (`prompt`, its special tokens read as such) or a chat rendered by the template.
        const ps =
          typeof body.prompt === "string" ? pieces(body.prompt) : pieces(render(messages, body.tools, body.add_generation_prompt !== false, opts.template));
        // vLLM 0.9.1 and later: the token strings when asked for, null otherwise.
        const strs = body.return_token_strs === true && !opts.withoutTokenStrs ? (opts.tokenStrsShort ? ps.slice(1) : ps) : null;
        reply = { count: ps.length, max_model_len: 32768, tokens: ids(ps), token_strs: strs };
      } else if (path === "/v1/completions") {
        // A prompt of token ids is scored as given (vLLM's CompletionRequest takes list[int]); prompt_logprobs per choice.
        const prompt = body.prompt as number[];
        const ps = prompt.map((id) => pieceOf.get(id) ?? `<unknown ${id}>`);
        reply = {
          id: "c",
          object: "text_completion",
          model: body.model,
          choices: [{ index: 0, text: " x", finish_reason: "length", prompt_logprobs: body.prompt_logprobs === 0 ? promptLogprobsOfPieces(ps) : null }],
          usage: { prompt_tokens: ps.length, completion_tokens: 1, total_tokens: ps.length + 1 },
        };
      } else {
        const text = opts.chatRendersHarmony
          ? renderVllmHarmony(messages, body.tools)
          : render(messages, body.tools, body.add_generation_prompt !== false, opts.template) + (opts.chatRendersDifferently ? " extra" : "");
        const ps = pieces(text);
        const promptLogprobs = promptLogprobsOfPieces(ps);
        const generated = ["I", " will", " call"];
        reply = {
          id: "x",
          object: "chat.completion",
          model: body.model,
          choices: [
            {
              index: 0,
              message: { role: "assistant", content: "I will call" },
              finish_reason: "stop",
              logprobs: body.logprobs ? { content: generated.map((t, i) => ({ token: t, logprob: -0.5 * (i + 1), top_logprobs: [] })) } : null,
            },
          ],
          usage: { prompt_tokens: ps.length, completion_tokens: 1, total_tokens: ps.length + 1 },
          ...(opts.withoutPromptLogprobs ? {} : { prompt_logprobs: body.prompt_logprobs === 0 ? promptLogprobs : null }),
          // vLLM with return_token_ids (PR #22587): the ids the engine was fed, top level.
          ...(body.return_token_ids === true && !opts.withoutPromptTokenIds ? { prompt_token_ids: ids(ps) } : {}),
        };
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, bodies, close: () => new Promise((r) => server.close(() => r())) };
}

const tool: McpTool = { name: "get_weather", description: "Weather now.", inputSchema: { type: "object", properties: { city: { type: "string" } } } };
const prompt: ChatMessage[] = [
  { role: "system", content: "You are helpful." },
  { role: "user", content: "Weather in Paris?" },
];
const call = (city: string) => ({ id: "c0", type: "function" as const, function: { name: "get_weather", arguments: JSON.stringify({ city }) } });

describe("perplexityOfAnswer against a vLLM-shaped server", () => {
  let server: Scripted;
  let client: LlmClient;
  before(async () => {
    server = await startScripted();
    client = new LlmClient({ baseUrl: server.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
  });
  after(() => server.close());

  it("scores exactly the assistant turn's tokens, with the request flags the contract names", async () => {
    server.bodies.length = 0;
    const r = await perplexityOfAnswer(client, { prompt, label: { content: null, tool_calls: [call("Paris")] }, tools: [tool] });
    const full = render([...prompt, { role: "assistant", content: null, tool_calls: [call("Paris")] }] as unknown as Json[], [toOpenAiTool(tool)], false);
    const withoutText = render(prompt as unknown as Json[], [toOpenAiTool(tool)], true);
    assert.equal(r.span[0], pieces(withoutText).length);
    assert.equal(r.span[1], pieces(full).length - 1, "the span ends at <|im_end|>, before the template's newline");
    assert.equal(
      pieces(full).slice(r.span[0], r.span[1]).join(""),
      `\n<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n</tool_call><|im_end|>`,
    );
    assert.equal(r.tokens, r.span[1] - r.span[0]);
    assert.ok(Math.abs(r.meanLogprob - -0.25) < 1e-12);
    assert.ok(Math.abs(r.perplexity - Math.exp(0.25)) < 1e-12);

    const tokenize = server.bodies.filter((b) => b.path === "/tokenize");
    assert.deepEqual(
      tokenize.map((b) => b.body.add_generation_prompt).sort(),
      [false, true],
      "/tokenize at the server root, with and without the generation prompt",
    );
    assert.ok(tokenize.every((b) => Array.isArray(b.body.tools) && b.body.continue_final_message === false));
    assert.deepEqual(
      tokenize.map((b) => [b.body.add_generation_prompt, b.body.return_token_strs === true]).sort(),
      [
        [false, true],
        [true, false],
      ],
      "token strings asked for the labelled conversation only",
    );
    const chat = server.bodies.find((b) => b.path === "/v1/chat/completions")!.body;
    assert.equal(chat.max_tokens, 1);
    assert.equal(chat.temperature, 0);
    assert.equal(chat.prompt_logprobs, 0);
    assert.equal(chat.add_generation_prompt, false);
    assert.equal((chat.messages as Json[]).at(-1)?.role, "assistant", "the label is the final message of the scored prompt");
  });

  it("gives a corrupted label a higher perplexity than the label the model agrees with", async () => {
    const good = await perplexityOfAnswer(client, { prompt, label: { content: null, tool_calls: [call("Paris")] }, tools: [tool] });
    const bad = await perplexityOfAnswer(client, { prompt, label: { content: null, tool_calls: [call("BAD BAD")] }, tools: [tool] });
    assert.ok(bad.perplexity > good.perplexity, `${bad.perplexity} > ${good.perplexity}`);
  });

  it("labelPerplexity scores a stored sample's last assistant message; a sample without one is unscorable", async () => {
    const sample = { messages: [...prompt, { role: "assistant" as const, content: "Sunny." }], tools: [] };
    const direct = await perplexityOfAnswer(client, { prompt, label: { content: "Sunny." }, tools: [] });
    assert.deepEqual(await labelPerplexity(client, sample), direct);
    await assert.rejects(labelPerplexity(client, { messages: prompt, tools: [] }), UnscorableSampleError);
  });

  it("ownOutputPerplexity scores the generated tokens' logprobs", async () => {
    const r = await ownOutputPerplexity(client, { messages: [...prompt, { role: "assistant", content: "x" }], tools: [tool] });
    assert.equal(r.tokens, 3);
    assert.ok(Math.abs(r.meanLogprob - -1) < 1e-12);
    assert.equal(r.answer.content, "I will call");
    const chat = server.bodies.at(-1)!.body;
    assert.equal(chat.logprobs, true);
    assert.equal((chat.messages as Json[]).length, 2, "the label is not sent");
  });
});

describe("the label span ends at the template's end-of-turn token", () => {
  const short = { content: "Sunny." };
  const long = { content: "It is sunny and warm in Paris today, with a light breeze from the west and no rain expected." };

  it("ChatML: the newline after <|im_end|> is left out, so a label's length does not move its perplexity", async () => {
    // Before: the span ended with <|im_end|>\n, and the near-certain newline (-0.001) pulled the short
    // label's mean logprob to -0.167 and the long one's to -0.238: every label token at -0.25, yet the
    // short label ranked as the more likely one.
    const server = await startScripted();
    try {
      const client = new LlmClient({ baseUrl: server.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
      const a = await perplexityOfAnswer(client, { prompt, label: short, tools: [] });
      const b = await perplexityOfAnswer(client, { prompt, label: long, tools: [] });
      for (const r of [a, b]) {
        assert.ok(Math.abs(r.meanLogprob - -0.25) < 1e-12, `mean logprob ${r.meanLogprob} over ${r.tokens} tokens`);
        assert.equal(r.endOfTurn, "<|im_end|>");
      }
      assert.equal(a.perplexity, b.perplexity);
      assert.equal(a.tokens, 2, "Sunny. and <|im_end|>");
    } finally {
      await server.close();
    }
  });

  it("Llama 3: the span already ends with <|eot_id|> (nothing follows it) and is kept whole", async () => {
    const server = await startScripted({ template: "llama3" });
    try {
      const client = new LlmClient({ baseUrl: server.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
      const r = await perplexityOfAnswer(client, { prompt, label: { content: null, tool_calls: [call("Paris")] }, tools: [tool] });
      const full = pieces(
        render([...prompt, { role: "assistant", content: null, tool_calls: [call("Paris")] }] as unknown as Json[], [toOpenAiTool(tool)], false, "llama3"),
      );
      assert.equal(r.span[1], full.length);
      assert.equal(full[r.span[1] - 1], "<|eot_id|>");
      assert.equal(r.endOfTurn, "<|eot_id|>");
    } finally {
      await server.close();
    }
  });

  it("a template without an end-of-turn token keeps the whole rendered turn", async () => {
    const server = await startScripted({ template: "plain" });
    try {
      const client = new LlmClient({ baseUrl: server.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
      const r = await perplexityOfAnswer(client, { prompt, label: short, tools: [] });
      const full = pieces(render([...prompt, { role: "assistant", content: "Sunny." }] as unknown as Json[], undefined, false, "plain"));
      assert.equal(r.span[1], full.length);
      assert.equal(r.endOfTurn, null);
      assert.deepEqual(full.slice(r.span[0]), ["Sunny.", "\n", "\n"]);
    } finally {
      await server.close();
    }
  });

  it("a /tokenize without token_strs (vLLM before 0.9.1) fails as a bad response naming them", async () => {
    const server = await startScripted({ withoutTokenStrs: true });
    try {
      const client = new LlmClient({ baseUrl: server.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
      await assert.rejects(
        perplexityOfAnswer(client, { prompt, label: short, tools: [] }),
        (e: unknown) => e instanceof LlmError && e.kind === "bad_response" && isSampleFailure(e) && /no token_strs .*vLLM 0\.9\.1/.test(e.message),
      );
      assert.equal(server.bodies.filter((b) => b.path === "/v1/chat/completions").length, 0, "no chat request is spent on it");
    } finally {
      await server.close();
    }
  });

  it("token_strs that do not match the tokens one for one are a bad response", async () => {
    const server = await startScripted({ tokenStrsShort: true });
    try {
      const client = new LlmClient({ baseUrl: server.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
      await assert.rejects(
        perplexityOfAnswer(client, { prompt, label: short, tools: [] }),
        (e: unknown) => e instanceof LlmError && /token_strs for \d+ tokens/.test(e.message),
      );
    } finally {
      await server.close();
    }
  });

  it("a model whose end-of-turn token is on no built-in list is scored over its whole turn, and says so with the turn's last tokens", async () => {
    const server = await startScripted({ template: "custom" });
    try {
      const client = new LlmClient({ baseUrl: server.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
      const r = await perplexityOfAnswer(client, { prompt, label: short, tools: [] });
      assert.equal(r.endOfTurn, null);
      assert.deepEqual(r.turnEnd, ["Sunny.", "<|turn_end|>", "\n"], "the last tokens of the turn, to name the end-of-turn token from");
    } finally {
      await server.close();
    }
  });

  it("endOfTurnTokens names the model's end-of-turn token: the span ends at it; a rendering without it fails naming the field", async () => {
    const server = await startScripted({ template: "custom" });
    try {
      const client = new LlmClient({ baseUrl: server.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
      const endOfTurn = { tokens: ["<|turn_end|>"], field: "stages[1].endOfTurnTokens" };
      const r = await perplexityOfAnswer(client, { prompt, label: short, tools: [], endOfTurn });
      const full = pieces(render([...prompt, { role: "assistant", content: "Sunny." }] as unknown as Json[], undefined, false, "custom"));
      assert.deepEqual(full.slice(r.span[0], r.span[1]), ["Sunny.", "<|turn_end|>"]);
      assert.equal(r.endOfTurn, "<|turn_end|>");
      assert.equal(r.turnEnd, undefined);
      // The configured list replaces the built-in one: <|im_end|> is not this model's.
      await assert.rejects(
        perplexityOfAnswer(client, { prompt, label: short, tools: [], endOfTurn: { tokens: ["<|im_end|>"], field: "stages[1].endOfTurnTokens" } }),
        (e: unknown) =>
          e instanceof LlmError &&
          e.kind === "bad_response" &&
          /stages\[1\]\.endOfTurnTokens/.test(e.message) &&
          /none of .*"<\|im_end\|>"/.test(e.message) &&
          /ends with .*"<\|turn_end\|>"/.test(e.message),
      );
    } finally {
      await server.close();
    }
  });

  it("harmony (gpt-oss): whatever the template writes (analysis text, <|end|> after the final answer), the label is written as the model generates it", async () => {
    // Before: the span was the template's turn, so a tool call's text was an analysis message, and a
    // template writing <|end|> after a final answer left the turn with no end-of-turn token at all.
    for (const template of ["harmony", "harmony-history"] as const) {
      const server = await startScripted({ template });
      try {
        const client = new LlmClient({ baseUrl: server.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
        const label = { content: "Let me check.", tool_calls: [call("Paris")] };
        const r = await perplexityOfAnswer(client, { prompt, label, tools: [tool] });
        const head = pieces(render(prompt as unknown as Json[], [toOpenAiTool(tool)], true, template));
        const text = server.bodies.find((b) => b.path === "/tokenize" && typeof b.body.prompt === "string")!.body.prompt;
        assert.equal(r.endOfTurn, "<|call|>");
        assert.deepEqual(r.span, [head.length, head.length + pieces(String(text)).length]);
        assert.ok(String(text).startsWith("<|channel|>commentary<|message|>Let me check.<|end|><|start|>assistant"), String(text));

        const final = await perplexityOfAnswer(client, { prompt, label: short, tools: [] });
        assert.equal(final.endOfTurn, "<|return|>");
        assert.equal(final.tokens, 5, "<|channel|> final <|message|> Sunny. <|return|>");
      } finally {
        await server.close();
      }
    }
  });

  it("endAtEndOfTurn cuts after the last end-of-turn token of the span, whatever the label's text holds", () => {
    const strs = ["<|im_start|>", "assistant", "\n", "say", "<|im_end|>", "literally", "<|im_end|>", "\n"];
    assert.deepEqual(endAtEndOfTurn([3, 8], strs), { span: [3, 7], endOfTurn: "<|im_end|>" });
    // Only the span is searched: an end-of-turn token before it is an earlier turn's.
    assert.deepEqual(endAtEndOfTurn([5, 6], strs), { span: [5, 6], endOfTurn: null, turnEnd: ["literally"] });
    assert.deepEqual(endAtEndOfTurn([0, 2], ["Hi", "</s>"]), { span: [0, 2], endOfTurn: "</s>" });
    assert.deepEqual(endAtEndOfTurn([0, 3], ["Hi", "<end_of_turn>", "\n"]), { span: [0, 2], endOfTurn: "<end_of_turn>" });
    assert.throws(() => endAtEndOfTurn([0, 3], ["a", "b"]), /2 token strings for a label span ending at token 3/);
    // Harmony: <|end|> ends the turn's analysis message, <|call|> or <|return|> the turn; elsewhere <|end|> is Phi's end of turn.
    const harmony = ["<|channel|>", "analysis", "<|message|>", "x", "<|end|>", "<|start|>", "assistant", "<|message|>", "{}", "<|call|>"];
    assert.deepEqual(endAtEndOfTurn([0, 10], harmony), { span: [0, 10], endOfTurn: "<|call|>" });
    assert.deepEqual(endAtEndOfTurn([0, 5], harmony), { span: [0, 5], endOfTurn: null, turnEnd: ["<|message|>", "x", "<|end|>"] });
    assert.deepEqual(endAtEndOfTurn([0, 3], ["Hi", "<|end|>", "\n"]), { span: [0, 2], endOfTurn: "<|end|>" });
    // Configured tokens replace the built-in lists.
    const field = "stages[2].endOfTurnTokens";
    assert.deepEqual(endAtEndOfTurn([0, 3], ["Hi", "<eot>", "\n"], { tokens: ["<eot>"], field }), { span: [0, 2], endOfTurn: "<eot>" });
    assert.throws(() => endAtEndOfTurn([0, 3], ["Hi", "<|im_end|>", "\n"], { tokens: ["<eot>"], field }), /stages\[2\]\.endOfTurnTokens/);
  });
});

describe("gpt-oss on vLLM: the chat endpoint renders through openai-harmony, /tokenize through the template", () => {
  const newClient = (s: Scripted) => new LlmClient({ baseUrl: s.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
  const promptPieces = (messages: ChatMessage[], tools?: unknown) => pieces(renderVllmHarmony(messages as unknown as Json[], tools));

  it("a final answer is scored after the chat endpoint's own prompt tokens, ending at <|return|> as the model generates it", async () => {
    // Before: every sample failed with "the chat endpoint and /tokenize render differently" (vLLM feeds
    // gpt-oss openai-harmony's rendering, with its own system message, whatever the template says).
    const server = await startScripted({ template: "harmony", chatRendersHarmony: true });
    try {
      const r = await perplexityOfAnswer(newClient(server), { prompt, label: { content: "Sunny." }, tools: [] });
      const head = promptPieces(prompt);
      assert.deepEqual(head.slice(-2), ["<|start|>", "assistant"]);
      assert.deepEqual(r.span, [head.length, head.length + 5]);
      assert.equal(r.endOfTurn, "<|return|>");
      assert.equal(r.tokens, 5);
      assert.ok(Math.abs(r.meanLogprob - -0.25) < 1e-12);

      const chat = server.bodies.find((b) => b.path === "/v1/chat/completions")!.body;
      assert.equal(chat.return_token_ids, true);
      assert.equal(chat.max_tokens, 1);
      assert.deepEqual(chat.messages, prompt, "the prompt alone: vLLM renders it with the generation prompt");
      const text = server.bodies.find((b) => b.path === "/tokenize" && typeof b.body.prompt === "string")!.body;
      assert.equal(text.prompt, "<|channel|>final<|message|>Sunny.<|return|>");
      assert.equal(text.add_special_tokens, false);
      const scored = server.bodies.find((b) => b.path === "/v1/completions")!.body;
      assert.deepEqual(scored.prompt, [...head, "<|channel|>", "final", "<|message|>", "Sunny.", "<|return|>"].map(idOf), "token ids, scored as given");
      assert.equal(scored.prompt_logprobs, 0);
      assert.equal(scored.max_tokens, 1);
    } finally {
      await server.close();
    }
  });

  it("a tool call is scored as harmony's commentary message to functions.NAME ending at <|call|>, its text a preamble before it", async () => {
    const server = await startScripted({ template: "harmony", chatRendersHarmony: true });
    try {
      const client = newClient(server);
      const history: ChatMessage[] = [
        ...prompt,
        { role: "assistant", content: null, tool_calls: [call("Lyon")] },
        { role: "tool", tool_call_id: "c0", content: '{"temp": 9}' },
        { role: "user", content: "And Paris?" },
      ];
      const label = { content: "Let me check.", tool_calls: [call("Paris")] };
      const r = await perplexityOfAnswer(client, { prompt: history, label, tools: [tool] });
      const head = promptPieces(history, [toOpenAiTool(tool)]);
      assert.equal(r.span[0], head.length);
      assert.equal(r.endOfTurn, "<|call|>");
      const text = server.bodies.find((b) => b.path === "/tokenize" && typeof b.body.prompt === "string")!.body.prompt;
      assert.equal(
        text,
        '<|channel|>commentary<|message|>Let me check.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>',
      );
      assert.equal(r.span[1], head.length + pieces(String(text)).length);

      const bad = await perplexityOfAnswer(client, { prompt: history, label: { content: null, tool_calls: [call("BAD BAD")] }, tools: [tool] });
      const good = await perplexityOfAnswer(client, { prompt: history, label: { content: null, tool_calls: [call("Paris")] }, tools: [tool] });
      assert.ok(bad.perplexity > good.perplexity, `${bad.perplexity} > ${good.perplexity}`);
      // endOfTurnTokens still decides: a configured list without the token the turn ends with fails naming the field.
      await assert.rejects(
        perplexityOfAnswer(client, { prompt: history, label, tools: [tool], endOfTurn: { tokens: ["<|return|>"], field: "stages[2].endOfTurnTokens" } }),
        (e: unknown) => e instanceof LlmError && e.kind === "bad_response" && /stages\[2\]\.endOfTurnTokens/.test(e.message),
      );
    } finally {
      await server.close();
    }
  });

  it("several tool calls: each is scored as its own generation, after vLLM's rendering of the calls before it as history", async () => {
    // Before: the calls were scored as one generation of consecutive messages, though vLLM stops the
    // model at the first <|call|>; the `<|start|>assistant` between them was scored as the model's,
    // where its own text would have a tool's reply.
    const server = await startScripted({ template: "harmony", chatRendersHarmony: true });
    try {
      const tools = [toOpenAiTool(tool)];
      const lyon = { ...call("Lyon"), id: "c1" };
      const label = { content: "Checking both.", tool_calls: [call("Paris"), lyon] };
      const r = await perplexityOfAnswer(newClient(server), { prompt, label, tools: [tool] });

      const callText = (c: ReturnType<typeof call>) =>
        `<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>${c.function.arguments}<|call|>`;
      const first = `<|channel|>commentary<|message|>Checking both.<|end|><|start|>assistant${callText(call("Paris"))}`;
      const second = callText(lyon);
      const texts = server.bodies.filter((b) => b.path === "/tokenize" && typeof b.body.prompt === "string").map((b) => b.body.prompt);
      assert.deepEqual(texts.sort(), [first, second].sort(), "the preamble is the first generation's; each call ends a generation");

      // The second call's context is what vLLM feeds the model after the first call: the chat with the
      // label's assistant message holding the calls before it (its text a commentary message), as history.
      const chats = server.bodies.filter((b) => b.path === "/v1/chat/completions").map((b) => b.body);
      assert.equal(chats.length, 2);
      const earlier: ChatMessage = { role: "assistant", content: "Checking both.", tool_calls: [call("Paris")] };
      assert.deepEqual(
        chats.map((c) => c.messages).sort((a, b) => (a as unknown[]).length - (b as unknown[]).length),
        [prompt, [...prompt, earlier]],
      );
      const head1 = promptPieces(prompt, tools);
      const head2 = promptPieces([...prompt, earlier], tools);
      assert.deepEqual(head2.slice(-2), ["<|start|>", "assistant"]);
      assert.ok(head2.join("").includes('<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"city":"Paris"}<|call|>'));
      const scored = server.bodies.filter((b) => b.path === "/v1/completions").map((b) => b.body.prompt as number[]);
      assert.deepEqual(
        scored.sort((a, b) => a.length - b.length),
        [[...head1, ...pieces(first)].map(idOf), [...head2, ...pieces(second)].map(idOf)].sort((a, b) => a.length - b.length),
      );

      // The label's tokens are every generation's, nothing between them: all at -0.25 here.
      assert.equal(r.tokens, pieces(first).length + pieces(second).length);
      assert.ok(Math.abs(r.meanLogprob - -0.25) < 1e-12, String(r.meanLogprob));
      assert.deepEqual(r.spans, [
        [head1.length, head1.length + pieces(first).length],
        [head2.length, head2.length + pieces(second).length],
      ]);
      assert.deepEqual(r.span, r.spans![0]);
      assert.equal(r.endOfTurn, "<|call|>");

      // A worse second call raises the label's perplexity; requests: two /tokenize of the chat, then per call one chat, one /tokenize, one /completions.
      server.bodies.length = 0;
      const worse = await perplexityOfAnswer(newClient(server), {
        prompt,
        label: { ...label, tool_calls: [call("Paris"), call("BAD BAD"), lyon] },
        tools: [tool],
      });
      assert.ok(worse.perplexity > r.perplexity, `${worse.perplexity} > ${r.perplexity}`);
      assert.equal(worse.spans!.length, 3);
      const count = (path: string) => server.bodies.filter((b) => b.path === path).length;
      assert.deepEqual([count("/tokenize"), count("/v1/chat/completions"), count("/v1/completions")], [2 + 3, 3, 3]);
    } finally {
      await server.close();
    }
  });

  it("a vLLM whose chat response has no prompt_token_ids fails as a bad response naming return_token_ids", async () => {
    const server = await startScripted({ template: "harmony", chatRendersHarmony: true, withoutPromptTokenIds: true });
    try {
      await assert.rejects(
        perplexityOfAnswer(newClient(server), { prompt, label: { content: "Sunny." }, tools: [] }),
        (e: unknown) =>
          e instanceof LlmError && e.kind === "bad_response" && isSampleFailure(e) && /prompt_token_ids/.test(e.message) && /return_token_ids/.test(e.message),
      );
      assert.equal(server.bodies.filter((b) => b.path === "/v1/completions").length, 0, "nothing is scored");
    } finally {
      await server.close();
    }
  });
});

describe("perplexityOfAnswer with a server that renders inconsistently", () => {
  it("fails as bad_response (not retryable) when chat and /tokenize disagree, or prompt_logprobs are missing", async () => {
    for (const opts of [{ chatRendersDifferently: true }, { withoutPromptLogprobs: true }]) {
      const server = await startScripted(opts);
      try {
        const client = new LlmClient({ baseUrl: server.baseUrl, model: "policy", role: "policy", timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4 });
        await assert.rejects(
          perplexityOfAnswer(client, { prompt, label: { content: "Sunny." }, tools: [] }),
          (e: unknown) => e instanceof LlmError && e.kind === "bad_response" && !e.retryable,
        );
      } finally {
        await server.close();
      }
    }
  });
});
