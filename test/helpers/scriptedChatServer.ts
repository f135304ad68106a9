/**
 * The HTTP part the scripted test servers share (scripted judge, scripted roles, scripted tool
 * server): a server on 127.0.0.1 that takes POST /v1/chat/completions, hands the parsed body to the
 * test's script and writes its reply in vLLM's response shape. The scripts decide; this only serves.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ScriptedHttpReply {
  status: number;
  /** Serialised as JSON unless `raw` is given. */
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

export interface ScriptedChatServer {
  url: string;
  close(): Promise<void>;
}

/** An error reply in the OpenAI error shape. */
export function chatError(status: number, message: string): ScriptedHttpReply {
  return { status, body: { error: { message } } };
}

/** A chat.completion reply with one choice. */
export function chatCompletion(p: {
  id: string;
  model: string;
  message: Record<string, unknown>;
  finishReason?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
}): ScriptedHttpReply {
  const usage = p.usage ?? { prompt_tokens: 10, completion_tokens: 10 };
  const calls = Array.isArray(p.message.tool_calls) && p.message.tool_calls.length > 0;
  return {
    status: 200,
    body: {
      id: p.id,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: p.model,
      choices: [{ index: 0, message: { role: "assistant", ...p.message }, logprobs: null, finish_reason: p.finishReason ?? (calls ? "tool_calls" : "stop") }],
      usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    },
  };
}

export async function startScriptedChatServer(
  name: string,
  handle: (body: Record<string, unknown>, raw: string) => ScriptedHttpReply | Promise<ScriptedHttpReply>,
  /** Other POST routes by path (e.g. vLLM's "/tokenize" at the server root). */
  routes: Record<string, (body: Record<string, unknown>) => ScriptedHttpReply> = {},
): Promise<ScriptedChatServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const send = (r: ScriptedHttpReply) => {
        res.writeHead(r.status, { "content-type": "application/json", ...r.headers });
        res.end(r.raw ?? JSON.stringify(r.body));
      };
      const raw = Buffer.concat(chunks).toString("utf8");
      const route = req.method === "POST" && req.url !== undefined && Object.hasOwn(routes, req.url) ? routes[req.url] : undefined;
      if (route) return send(route(JSON.parse(raw) as Record<string, unknown>));
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") return send(chatError(404, `${name}: no route ${req.url}`));
      void (async () => send(await handle(JSON.parse(raw) as Record<string, unknown>, raw)))().catch((err: unknown) =>
        send(chatError(500, `${name}: ${String(err)}`)),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
