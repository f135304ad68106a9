/**
 * A SCRIPTED judge for tests: a tiny OpenAI-compatible server whose answers to judge tasks (label
 * judgement by default; sample check when asked) come from a function of the case and the request's seed, so a test can plant exactly the verdicts it needs.
 * It is not a model and decides nothing itself; tests that want a judge deciding from the simulated
 * user's intent use the LLM simulator instead.
 */
import { LABEL_JUDGEMENT_MARKER, parseCaseMessage } from "../../src/judging/protocol.js";
import { chatCompletion, chatError, startScriptedChatServer } from "./scriptedChatServer.js";

export interface JudgeRequest {
  /** The task marker the request's system prompt carries (LABEL_JUDGEMENT_MARKER, SAMPLE_CHECK_MARKER). */
  marker: string;
  model: string;
  seed: number | undefined;
  /** The case from the last user message's ```json block. */
  case: Record<string, unknown>;
  body: Record<string, unknown>;
}

/**
 * The verdict and analysis to answer, a raw reply text (to test unreadable answers), or an HTTP error
 * status (a judge endpoint failing; `message` as the server words it, e.g. vLLM's context-length 400).
 */
export type ScriptedAnswer = { verdict: string; analysis: string } | { raw: string } | { httpStatus: number; message?: string };

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
  const server = await startScriptedChatServer("scripted judge", (body) => {
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
    if (!c || !marker) return chatError(400, `scripted judge: not a request for ${markers.join(" or ")}`);
    const jr: JudgeRequest = { marker, model: String(body.model), seed: typeof body.seed === "number" ? body.seed : undefined, case: c, body };
    requests.push(jr);
    const a = answer(jr);
    if ("httpStatus" in a) return chatError(a.httpStatus, a.message ?? `scripted judge: planted HTTP ${a.httpStatus}`);
    return chatCompletion({ id: `chatcmpl-scripted-${++n}`, model: jr.model, message: { content: "raw" in a ? a.raw : JSON.stringify(a) } });
  });
  return { url: server.url, requests, close: server.close };
}
