import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { z } from "zod";
import { parseCampaignConfig, type CampaignConfig } from "../../../src/config/campaignConfig.js";
import { backoffDelayMs, retryAfterMs } from "../../../src/llm/backoff.js";
import { createRoleClient, LlmClient, LlmError, UsageAccumulator, type LlmClientOptions } from "../../../src/llm/client.js";

/** What the scripted server does for one request. */
interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings verbatim. */
  body?: unknown;
  /** Never answer (until the test closes the server). */
  hang?: boolean;
  delayMs?: number;
}

interface Seen {
  path: string;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

interface ScriptedServer {
  baseUrl: string;
  requests: Seen[];
  maxInFlight: number;
  close(): Promise<void>;
}

const servers: ScriptedServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Resolves once the server has received `n` requests. */
async function whenReceived(s: ScriptedServer, n: number): Promise<void> {
  while (s.requests.length < n) await new Promise((r) => setTimeout(r, 5));
}

/** A loopback OpenAI-compatible server whose every reply is decided by `script` (n = 0-based request number). */
async function startServer(script: (req: Seen, n: number) => Reply): Promise<ScriptedServer> {
  const state: ScriptedServer = { baseUrl: "", requests: [], maxInFlight: 0, close: async () => {} };
  let inFlight = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen: Seen = {
        path: req.url ?? "",
        body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>,
        headers: req.headers,
      };
      const n = state.requests.length;
      state.requests.push(seen);
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      res.on("close", () => inFlight--);
      const reply = script(seen, n);
      if (reply.hang) return;
      const send = (): void => {
        const isText = typeof reply.body === "string";
        res.writeHead(reply.status ?? 200, { "content-type": isText ? "text/plain" : "application/json", ...reply.headers });
        res.end(isText ? (reply.body as string) : JSON.stringify(reply.body ?? {}));
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  state.baseUrl = `http://127.0.0.1:${port}/v1`;
  let closed = false;
  state.close = async () => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  servers.push(state);
  return state;
}

function chatReply(content: string | null, extra: Record<string, unknown> = {}, usage = { prompt_tokens: 10, completion_tokens: 5 }): Reply {
  return {
    body: {
      id: "chatcmpl-1",
      object: "chat.completion",
      model: "m-served",
      choices: [{ index: 0, message: { role: "assistant", content, ...extra }, finish_reason: "stop" }],
      usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    },
  };
}

function client(baseUrl: string, over: Partial<LlmClientOptions> = {}): LlmClient {
  return new LlmClient({
    baseUrl,
    model: "m",
    role: "generator",
    timeoutMs: 2000,
    maxRetries: 3,
    maxConcurrency: 4,
    backoff: { baseMs: 1, maxMs: 5 },
    ...over,
  });
}

const hello = { messages: [{ role: "user" as const, content: "hi" }] };

async function rejectsWith(p: Promise<unknown>, check: (e: LlmError) => void): Promise<LlmError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof LlmError, `expected LlmError, got ${String(caught)}`);
  check(caught);
  return caught;
}

describe("LlmClient.chat transport", () => {
  it("sends the request fields and returns message, usage and model", async () => {
    const s = await startServer(() => chatReply("hello"));
    const usage = new UsageAccumulator();
    const c = client(s.baseUrl, { temperature: 0.3, maxTokens: 64, usage, apiKey: "k-123" });
    const r = await c.chat({
      ...hello,
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      toolChoice: "required",
      seed: 7,
      responseFormat: { name: "Out", schema: { type: "object" } },
      extraBody: { chat_template_kwargs: { enable_thinking: false } },
    });
    assert.equal(r.message.content, "hello");
    assert.equal(r.finishReason, "stop");
    assert.equal(r.model, "m-served");
    assert.deepEqual(r.usage, { promptTokens: 10, completionTokens: 5 });
    const seen = s.requests[0];
    assert.ok(seen);
    assert.equal(seen.path, "/v1/chat/completions");
    assert.equal(seen.headers.authorization, "Bearer k-123");
    assert.equal(seen.body.model, "m");
    assert.equal(seen.body.temperature, 0.3);
    assert.equal(seen.body.max_tokens, 64);
    assert.equal(seen.body.seed, 7);
    assert.equal(seen.body.tool_choice, "required");
    assert.deepEqual(seen.body.response_format, { type: "json_schema", json_schema: { name: "Out", schema: { type: "object" }, strict: true } });
    assert.deepEqual(seen.body.chat_template_kwargs, { enable_thinking: false });
  });

  it("returns tool calls with invalid JSON arguments as they are", async () => {
    const calls = [{ id: "c1", type: "function", function: { name: "get_weather", arguments: "{not json" } }];
    const s = await startServer(() => chatReply(null, { tool_calls: calls }));
    const r = await client(s.baseUrl).chat(hello);
    assert.equal(r.message.content, null);
    assert.deepEqual(r.message.tool_calls, calls);
  });

  it("a NUL character in the generated text or tool call becomes U+FFFD (PostgreSQL cannot store it)", async () => {
    const s = await startServer(() =>
      chatReply("Done.\u0000", { tool_calls: [{ id: "t1", type: "function", function: { name: "get_weather", arguments: '{"city": "Par\u0000is"}' } }] }),
    );
    const r = await client(s.baseUrl).chat(hello);
    assert.equal(r.message.content, "Done.\uFFFD");
    assert.equal(r.message.tool_calls![0]!.function.arguments, '{"city": "Par\uFFFDis"}');
    assert.ok(!JSON.stringify(r.message).includes("\\u0000"));
  });

  it("retries a 429 after the Retry-After delay, then succeeds", async () => {
    const s = await startServer((_req, n) =>
      n === 0 ? { status: 429, headers: { "retry-after": "0.2" }, body: { error: { message: "slow down" } } } : chatReply("ok"),
    );
    // maxMs is large enough that the 200 ms Retry-After is not capped, small enough that plain backoff would be quicker.
    const c = client(s.baseUrl, { backoff: { baseMs: 1, maxMs: 100 } });
    const t0 = Date.now();
    const r = await c.chat(hello);
    const elapsed = Date.now() - t0;
    assert.equal(r.message.content, "ok");
    assert.equal(s.requests.length, 2);
    assert.ok(elapsed >= 150, `waited only ${elapsed} ms despite Retry-After: 0.2`);
  });

  it("retries 500 until maxRetries, then throws a retryable server error", async () => {
    const s = await startServer(() => ({ status: 500, body: { error: { message: "boom" } } }));
    const usage = new UsageAccumulator();
    const e = await rejectsWith(client(s.baseUrl, { maxRetries: 2, usage }).chat(hello), (err) => {
      assert.equal(err.kind, "server");
      assert.equal(err.retryable, true);
      assert.equal(err.status, 500);
      assert.equal(err.attempts, 3);
    });
    assert.match(e.message, /after 3 attempts/);
    assert.equal(s.requests.length, 3);
    assert.deepEqual(usage.drain(), [{ role: "generator", model: "m", requests: 3, promptTokens: 0, completionTokens: 0, failures: 3 }]);
  });

  it("does not retry a 400 and reports a non-retryable client error", async () => {
    const s = await startServer(() => ({ status: 400, body: { error: { message: "bad field tools" } } }));
    await rejectsWith(client(s.baseUrl).chat(hello), (err) => {
      assert.equal(err.kind, "client");
      assert.equal(err.retryable, false);
      assert.equal(err.status, 400);
      assert.match(err.message, /bad field tools/);
    });
    assert.equal(s.requests.length, 1);
  });

  it("treats 408 as a retryable timeout", async () => {
    const s = await startServer((_r, n) => (n === 0 ? { status: 408, body: {} } : chatReply("ok")));
    const r = await client(s.baseUrl).chat(hello);
    assert.equal(r.message.content, "ok");
    assert.equal(s.requests.length, 2);
  });

  it("retries a 200 whose body is not JSON or lacks choices", async () => {
    const s = await startServer((_r, n) =>
      n === 0 ? { body: "<html>proxy error</html>" } : n === 1 ? { body: { object: "chat.completion" } } : chatReply("ok"),
    );
    const r = await client(s.baseUrl).chat(hello);
    assert.equal(r.message.content, "ok");
    assert.equal(s.requests.length, 3);

    const s2 = await startServer(() => ({ body: "not json" }));
    await rejectsWith(client(s2.baseUrl, { maxRetries: 1 }).chat(hello), (err) => {
      assert.equal(err.kind, "server");
      assert.equal(err.retryable, true);
      assert.match(err.message, /not JSON/);
    });
    assert.equal(s2.requests.length, 2);
  });

  it("times out a hanging server with kind timeout after retries", async () => {
    const s = await startServer(() => ({ hang: true }));
    await rejectsWith(client(s.baseUrl, { timeoutMs: 100, maxRetries: 1 }).chat(hello), (err) => {
      assert.equal(err.kind, "timeout");
      assert.equal(err.retryable, true);
      assert.equal(err.attempts, 2);
    });
    assert.equal(s.requests.length, 2);
  });

  it("times out when headers arrive but the body stalls", async () => {
    // Headers and half a body, then silence: the SDK's own timeout stops at the headers.
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"choices": [');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      await rejectsWith(client(url, { timeoutMs: 150, maxRetries: 0 }).chat(hello), (err) => assert.equal(err.kind, "timeout"));
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("reports an unreachable server as a retryable network error", async () => {
    const s = await startServer(() => chatReply("never"));
    await s.close();
    await rejectsWith(client(s.baseUrl, { maxRetries: 1 }).chat(hello), (err) => {
      assert.equal(err.kind, "network");
      assert.equal(err.retryable, true);
      assert.equal(err.attempts, 2);
    });
  });

  it("aborts mid-request without sending more requests", async () => {
    const s = await startServer(() => ({ hang: true }));
    const ac = new AbortController();
    // Aborted once the server holds the request (a fixed delay races the first fetch's warm-up on a busy machine).
    const aborted = whenReceived(s, 1).then(() => ac.abort(new Error("user cancelled")));
    await rejectsWith(client(s.baseUrl, { maxRetries: 5 }).chat(hello, { signal: ac.signal }), (err) => {
      assert.equal(err.kind, "aborted");
      assert.equal(err.retryable, false);
      assert.match(err.message, /user cancelled/);
    });
    await aborted;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.requests.length, 1);
  });

  it("aborts during the backoff sleep", async () => {
    const s = await startServer(() => ({ status: 503, headers: { "retry-after": "5" }, body: {} }));
    const ac = new AbortController();
    const c = client(s.baseUrl, { backoff: { baseMs: 1, maxMs: 5000 } });
    const t0 = Date.now();
    const aborting = whenReceived(s, 1).then(() => setTimeout(() => ac.abort(), 50));
    await rejectsWith(c.chat(hello, { signal: ac.signal }), (err) => assert.equal(err.kind, "aborted"));
    await aborting;
    assert.ok(Date.now() - t0 < 2000, "the Retry-After sleep was not interrupted");
    assert.equal(s.requests.length, 1);
  });

  it("never starts a request that was aborted while waiting for a slot", async () => {
    const s = await startServer((_r, n) => (n === 0 ? { delayMs: 200, ...chatReply("first") } : chatReply("later")));
    const c = client(s.baseUrl, { maxConcurrency: 1 });
    const first = c.chat(hello);
    const ac = new AbortController();
    const queued = c.chat(hello, { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    await rejectsWith(queued, (err) => assert.equal(err.kind, "aborted"));
    assert.equal((await first).message.content, "first");
    assert.equal(s.requests.length, 1);
    // An already-aborted signal sends nothing at all.
    await rejectsWith(c.chat(hello, { signal: AbortSignal.abort() }), (err) => assert.equal(err.kind, "aborted"));
    assert.equal(s.requests.length, 1);
  });

  it("shares one concurrency limit per baseUrl across the clients of one campaign", async () => {
    const s = await startServer(() => ({ delayMs: 40, ...chatReply("ok") }));
    const a = client(s.baseUrl, { maxConcurrency: 2, role: "generator", tenant: "c1" });
    const b = client(s.baseUrl, { maxConcurrency: 2, role: "judge", tenant: "c1" });
    await Promise.all([...Array.from({ length: 4 }, () => a.chat(hello)), ...Array.from({ length: 4 }, () => b.chat(hello))]);
    assert.equal(s.requests.length, 8);
    assert.equal(s.maxInFlight, 2);
  });

  it("a campaign naming one URL under two endpoints with different limits gets the lower, whichever role's client comes first", async () => {
    const s = await startServer(() => ({ delayMs: 40, ...chatReply("ok") }));
    const parsed = parseCampaignConfig({
      name: "two-names",
      endpoints: { wide: { baseUrl: s.baseUrl, maxConcurrency: 8 }, narrow: { baseUrl: `${s.baseUrl}/`, maxConcurrency: 2 } },
      roles: { generator: { endpoint: "wide", model: "m" }, judge: { endpoint: "narrow", model: "m" } },
      tools: { sources: [{ kind: "example" }] },
      stages: [{ name: "verify.rules" }],
    });
    assert.ok(parsed.ok);
    const gen = createRoleClient(parsed.config, "generator", { tenant: "two-names" });
    const judge = createRoleClient(parsed.config, "judge", { tenant: "two-names" });
    await Promise.all([...Array.from({ length: 4 }, () => gen.chat(hello)), ...Array.from({ length: 4 }, () => judge.chat(hello))]);
    assert.equal(s.requests.length, 8);
    assert.equal(s.maxInFlight, 2);
  });
});

describe("LlmClient.structured", () => {
  const schema = z.object({ city: z.string(), days: z.number().int() });
  const req = { ...hello, responseFormat: { name: "Trip", schema: { type: "object" } } };

  it("repairs an invalid reply by showing the model what was wrong", async () => {
    const s = await startServer((_r, n) => chatReply(n === 0 ? '{"city": "Oslo", "days": "three"}' : '{"city": "Oslo", "days": 3}'));
    const v = await client(s.baseUrl).structured(req, schema);
    assert.deepEqual(v, { city: "Oslo", days: 3 });
    assert.equal(s.requests.length, 2);
    const second = s.requests[1]?.body.messages as { role: string; content: string }[];
    assert.equal(second.length, 3);
    assert.equal(second[1]?.role, "assistant");
    assert.equal(second[1]?.content, '{"city": "Oslo", "days": "three"}');
    assert.equal(second[2]?.role, "user");
    assert.match(second[2]?.content ?? "", /days/);
  });

  it("throws bad_response after maxRepairs + 1 calls", async () => {
    const s = await startServer(() => chatReply("sure! here it is"));
    await rejectsWith(client(s.baseUrl).structured(req, schema, { maxRepairs: 2 }), (err) => {
      assert.equal(err.kind, "bad_response");
      assert.equal(err.retryable, false);
      assert.match(err.message, /not valid JSON/);
      assert.match(err.message, /Trip/);
    });
    assert.equal(s.requests.length, 3);

    const s2 = await startServer(() => chatReply('{"city": 1}'));
    await rejectsWith(client(s2.baseUrl).structured(req, schema, { maxRepairs: 0 }), (err) => {
      assert.equal(err.kind, "bad_response");
      assert.match(err.message, /city/);
      assert.match(err.message, /days/);
    });
    assert.equal(s2.requests.length, 1);
  });

  it('a reply cut off at max_tokens (finish_reason "length") says so and names the role\'s maxTokens, not only "not valid JSON"', async () => {
    const cut = (): Reply => {
      const r = chatReply('{"city": "Os');
      (r.body as { choices: { finish_reason: string }[] }).choices[0]!.finish_reason = "length";
      return r;
    };
    const s = await startServer(cut);
    await rejectsWith(client(s.baseUrl, { role: "planner", maxTokens: 60 }).structured(req, schema, { maxRepairs: 1 }), (err) => {
      assert.equal(err.kind, "bad_response");
      assert.match(err.message, /cut off at max_tokens 60 \(finish_reason "length"\)/);
      assert.match(err.message, /roles\.planner\.maxTokens/);
      assert.match(err.message, /not valid JSON/);
    });
    const repair = (s.requests[1]!.body.messages as { content: string }[]).at(-1)!.content;
    assert.match(repair, /cut off at max_tokens 60/, "the repair request tells the model why too");
    assert.doesNotMatch(repair, /roles\.planner/, "but not the operator's advice");
  });

  it("an escaped NUL in the JSON (\\u0000 written out) parses to U+FFFD, never a NUL", async () => {
    const s = await startServer(() => chatReply('{"city": "Os\\u0000lo", "days": 3}'));
    assert.deepEqual(await client(s.baseUrl).structured(req, schema), { city: "Os\uFFFDlo", days: 3 });
  });

  it("accepts JSON wrapped in a markdown fence", async () => {
    const s = await startServer(() => chatReply('```json\n{"city": "Rome", "days": 2}\n```'));
    assert.deepEqual(await client(s.baseUrl).structured(req, schema), { city: "Rome", days: 2 });
  });
});

describe("usage accounting", () => {
  it("sums tokens per (role, model) and drains", async () => {
    const s = await startServer((req) => {
      const model = req.body.model as string;
      return {
        body: {
          model,
          choices: [{ message: { content: "x" }, finish_reason: "stop" }],
          usage: { prompt_tokens: model === "big" ? 100 : 7, completion_tokens: 3 },
        },
      };
    });
    const usage = new UsageAccumulator();
    const gen = client(s.baseUrl, { usage, model: "small" });
    const judge = client(s.baseUrl, { usage, model: "big", role: "judge" });
    await gen.chat(hello);
    await gen.chat(hello);
    await judge.chat(hello);
    const rows = usage.drain().sort((x, y) => x.role.localeCompare(y.role));
    assert.deepEqual(rows, [
      { role: "generator", model: "small", requests: 2, promptTokens: 14, completionTokens: 6, failures: 0 },
      { role: "judge", model: "big", requests: 1, promptTokens: 100, completionTokens: 3, failures: 0 },
    ]);
    assert.deepEqual(usage.drain(), []);
  });
});

describe("promptLogprobs and embed", () => {
  it("parses vLLM prompt_logprobs", async () => {
    const s = await startServer(() => ({
      body: {
        model: "m",
        choices: [
          {
            index: 0,
            text: "!",
            finish_reason: "length",
            prompt_logprobs: [
              null,
              { "9707": { logprob: -1.25, rank: 3, decoded_token: "Hello" } },
              { "1879": { logprob: -0.5, rank: 1, decoded_token: " world" } },
            ],
          },
        ],
        usage: { prompt_tokens: 3, completion_tokens: 1 },
      },
    }));
    const r = await client(s.baseUrl).promptLogprobs("Hello world");
    assert.deepEqual(r, { tokens: ["", "Hello", " world"], logprobs: [null, -1.25, -0.5] });
    const sent = s.requests[0];
    assert.equal(sent?.path, "/v1/completions");
    assert.equal(sent?.body.prompt_logprobs, 0);
    assert.equal(sent?.body.max_tokens, 1);
  });

  it("rejects a completions reply without prompt_logprobs as bad_response", async () => {
    const s = await startServer(() => ({ body: { choices: [{ text: "!" }] } }));
    await rejectsWith(client(s.baseUrl).promptLogprobs("Hello"), (err) => {
      assert.equal(err.kind, "bad_response");
      assert.match(err.message, /prompt_logprobs/);
    });
  });

  it("tokenizeText sends text to the server root's /tokenize; scoreTokens sends token ids to /completions", async () => {
    const s = await startServer((req) =>
      req.path === "/tokenize"
        ? { body: { tokens: [200005, 17196], token_strs: ["<|channel|>", "final"], count: 2, max_model_len: 8 } }
        : { body: { choices: [{ index: 0, text: "!", prompt_logprobs: [null, { "17196": { logprob: -0.5 } }] }] } },
    );
    const c = client(s.baseUrl);
    assert.deepEqual(await c.tokenizeText("<|channel|>final", { addSpecialTokens: false, returnTokenStrs: true }), {
      tokens: [200005, 17196],
      tokenStrs: ["<|channel|>", "final"],
    });
    assert.deepEqual(s.requests[0]?.body, { model: "m", prompt: "<|channel|>final", add_special_tokens: false, return_token_strs: true });
    assert.equal(s.requests[0]?.path, "/tokenize");
    const raw = await c.scoreTokens([200005, 17196]);
    assert.ok(Array.isArray(raw.choices));
    assert.equal(s.requests[1]?.path, "/v1/completions");
    assert.deepEqual(s.requests[1]?.body, { model: "m", prompt: [200005, 17196], max_tokens: 1, temperature: 0, prompt_logprobs: 0 });
    // Bad input is the caller's error, named, and nothing is sent.
    for (const bad of [c.tokenizeText("", { addSpecialTokens: false }), c.scoreTokens([]), c.scoreTokens([1.5]), c.scoreTokens([-1])])
      await rejectsWith(bad, (err) => {
        assert.equal(err.kind, "client");
        assert.match(err.message, /tokenizeText\(\): text|scoreTokens\(\): tokenIds/);
      });
    assert.equal(s.requests.length, 2);
  });

  it("returns embeddings in input order", async () => {
    const s = await startServer(() => ({
      body: {
        object: "list",
        model: "e",
        data: [
          { index: 1, embedding: [0, 1] },
          { index: 0, embedding: [1, 0] },
        ],
        usage: { prompt_tokens: 4, total_tokens: 4 },
      },
    }));
    const usage = new UsageAccumulator();
    assert.deepEqual(await client(s.baseUrl, { usage }).embed(["a", "b"]), [
      [1, 0],
      [0, 1],
    ]);
    assert.equal(s.requests[0]?.path, "/v1/embeddings");
    assert.equal(s.requests[0]?.body.encoding_format, "float");
    assert.equal(usage.drain()[0]?.promptTokens, 4);
    assert.deepEqual(await client(s.baseUrl).embed([]), []);
    assert.equal(s.requests.length, 1);
  });
});

describe("createRoleClient", () => {
  function config(over: Record<string, unknown> = {}): CampaignConfig {
    const r = parseCampaignConfig({
      name: "c",
      endpoints: { local: { baseUrl: "http://127.0.0.1:9/v1", apiKeyEnv: "TOOLLOOP_TEST_KEY" } },
      roles: { generator: { endpoint: "local", model: "gen-model" } },
      tools: { sources: [{ kind: "example" }] },
      stages: [{ name: "verify.rules" }],
      ...over,
    });
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    return r.config;
  }

  it("builds a client from the role and endpoint", () => {
    const c = createRoleClient(config(), "generator", { env: { TOOLLOOP_TEST_KEY: "secret" } });
    assert.equal(c.model, "gen-model");
    assert.equal(c.role, "generator");
    assert.equal(c.baseUrl, "http://127.0.0.1:9/v1");
  });

  it("names the missing role", () => {
    assert.throws(() => createRoleClient(config(), "judge", { env: { TOOLLOOP_TEST_KEY: "x" } }), /roles\.judge/);
  });

  it("names the missing environment variable", () => {
    assert.throws(() => createRoleClient(config(), "generator", { env: {} }), /TOOLLOOP_TEST_KEY/);
  });

  it("uses a placeholder key when the endpoint names no variable", async () => {
    const s = await startServer(() => chatReply("ok"));
    const cfg = config({ endpoints: { local: { baseUrl: s.baseUrl } } });
    const c = createRoleClient(cfg, "generator", { env: {} });
    await c.chat(hello);
    assert.equal(s.requests[0]?.headers.authorization, "Bearer EMPTY");
  });
});

describe("backoff helpers", () => {
  it("keeps full-jitter delays within the exponential ceiling", () => {
    const opts = { baseMs: 100, maxMs: 1000 };
    assert.equal(
      backoffDelayMs(0, opts, () => 0),
      0,
    );
    assert.equal(
      backoffDelayMs(0, opts, () => 0.999999),
      99,
    );
    assert.equal(
      backoffDelayMs(3, opts, () => 0.5),
      400,
    );
    assert.equal(
      backoffDelayMs(10, opts, () => 0.5),
      500,
    );
  });

  it("parses Retry-After seconds and HTTP dates, capped", () => {
    const h = (v: Record<string, string>): Headers => new Headers(v);
    assert.equal(retryAfterMs(h({ "retry-after": "2" }), 10_000), 2000);
    assert.equal(retryAfterMs(h({ "retry-after": "120" }), 10_000), 10_000);
    const now = Date.parse("2025-01-01T00:00:00Z");
    assert.equal(retryAfterMs(h({ "retry-after": "Wed, 01 Jan 2025 00:00:03 GMT" }), 10_000, now), 3000);
    assert.equal(retryAfterMs(h({ "retry-after": "soon" }), 10_000), undefined);
    assert.equal(retryAfterMs(h({}), 10_000), undefined);
  });
});

describe("LlmClient options", () => {
  it("rejects invalid options naming the field", () => {
    assert.throws(() => client("http://127.0.0.1:9/v1", { timeoutMs: 0 }), /timeoutMs/);
    assert.throws(() => client("not a url"), /baseUrl/);
    assert.throws(() => client("http://127.0.0.1:9/v1", { maxRetries: -1 }), /maxRetries/);
  });
});
