/**
 * A SCRIPTED judge for tests: a tiny OpenAI-compatible server whose answers to judge tasks (label
 * judgement by default; sample check when asked) come from a function of the case and the request's seed, so a test can plant exactly the verdicts it needs.
 * It is not a model and decides nothing itself; tests that want a judge deciding from the simulated
 * user's intent use the LLM simulator instead.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { LABEL_JUDGEMENT_MARKER, parseCaseMessage } from "../../src/judging/protocol.js";

export interface JudgeRequest {
  /** The task marker the request's system prompt carries (LABEL_JUDGEMENT_MARKER, SAMPLE_CHECK_MARKER). */
  marker: string;
  model: string;
  seed: number | undefined;
  /** The case from the last user message's ```json block. */
  case: Record<string, unknown>;
  body: Record<string, unknown>;
}

/** The verdict and analysis to answer, a raw reply text (to test unreadable answers), or an HTTP error status (a judge endpoint failing). */
export type ScriptedAnswer = { verdict: string; analysis: string } | { raw: string } | { httpStatus: number };

export interface ScriptedJudge {
  url: string;
  requests: JudgeRequest[];
  close(): Promise<void>;
}

/**
 * `markers`: the task markers answered (default: label judgement only; pass SAMPLE_CHECK_MARKER from
 * src/dialogue/protocol.ts for verify.judges); any other request is refused with a 400.
 */
export async function startScriptedJudge(answer: (req: JudgeRequest) => ScriptedAnswer, opts: { markers?: readonly string[] } = {}): Promise<ScriptedJudge> {
  const markers = opts.markers ?? [LABEL_JUDGEMENT_MARKER];
  const requests: JudgeRequest[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") return reply(404, { error: { message: `scripted judge: no route ${req.url}` } });
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      const messages = body.messages as { role: string; content: string }[];
      const system = messages.find((m) => m.role === "system")?.content ?? "";
      // The newest user message with a case: a structured-output repair turn appended after it has none.
      const marker = markers.find((m) => system.includes(m));
      const c = marker
        ? [...messages]
            .reverse()
            .filter((m) => m.role === "user")
            .map((m) => parseCaseMessage(m.content))
            .find((x) => x !== undefined)
        : undefined;
      if (!c || !marker) return reply(400, { error: { message: `scripted judge: not a request for ${markers.join(" or ")}` } });
      const jr: JudgeRequest = { marker, model: String(body.model), seed: typeof body.seed === "number" ? body.seed : undefined, case: c, body };
      requests.push(jr);
      const a = answer(jr);
      if ("httpStatus" in a) return reply(a.httpStatus, { error: { message: `scripted judge: planted HTTP ${a.httpStatus}` } });
      const content = "raw" in a ? a.raw : JSON.stringify(a);
      reply(200, {
        id: `chatcmpl-scripted-${++n}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: jr.model,
        choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
        usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
