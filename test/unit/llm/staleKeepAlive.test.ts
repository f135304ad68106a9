/**
 * A kept-alive socket the server closed while it sat idle (uvicorn's and Node's keep-alive timeout is
 * 5 s) can be handed to the next request just before its close arrives. The request then fails with
 * ECONNRESET before any answer, though the server never read it: the transport sends it again on
 * another socket without spending one of the caller's retries. A reset on a fresh connection is the
 * endpoint's failure and is not resent.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Socket } from "node:net";
import { after, describe, it } from "node:test";
import { LlmClient, LlmError } from "../../../src/llm/client.js";

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

/**
 * A chat server that resets a connection, without answering, on the request number `resetAt` of that
 * connection (1: every fresh connection's first request; 2: the first reuse of a kept-alive socket).
 */
async function resettingServer(resetAt: number): Promise<{ baseUrl: string; received: () => number; connections: () => number }> {
  let received = 0;
  let connections = 0;
  const perSocket = new WeakMap<Socket, number>();
  const server = http.createServer((req, res) => {
    received++;
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    req.resume();
    req.once("end", () => {
      if (n === resetAt) {
        req.socket.resetAndDestroy();
        return;
      }
      const body = JSON.stringify({
        id: "c",
        object: "chat.completion",
        created: 0,
        model: "m",
        choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, received: () => received, connections: () => connections };
}

describe("a kept-alive socket the server has closed", () => {
  it("a request reset on a reused socket is sent again on another, not counted as a retry", async () => {
    const s = await resettingServer(2);
    const c = new LlmClient({ baseUrl: s.baseUrl, model: "m", role: "generator", timeoutMs: 10_000, maxRetries: 0, maxConcurrency: 1 });
    assert.equal((await c.chat({ messages: [{ role: "user", content: "first" }] })).message.content, "ok");
    // The second request goes out on the kept-alive socket, which the server resets.
    assert.equal((await c.chat({ messages: [{ role: "user", content: "second" }] })).message.content, "ok");
    assert.equal(s.received(), 3, "the reset request reached the server, then its resend");
    assert.ok(s.connections() >= 2, "the resend went out on another connection");
  });

  it("a reset on a fresh connection is the endpoint's failure: not sent again", async () => {
    const s = await resettingServer(1);
    const c = new LlmClient({ baseUrl: s.baseUrl, model: "m", role: "generator", timeoutMs: 10_000, maxRetries: 0, maxConcurrency: 1 });
    const err = await c.chat({ messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    assert.ok(err instanceof LlmError, String(err));
    assert.match(err.message, /ECONNRESET/);
    assert.equal(s.received(), 1);
  });
});
