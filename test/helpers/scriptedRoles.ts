/**
 * SCRIPTED role players for dialogue tests: a tiny OpenAI-compatible server on 127.0.0.1 that tells
 * the multi-turn roles apart by their task marker (src/dialogue/protocol.ts) and answers each with a
 * function the test gives, in vLLM's response shape (choices[0].message with tool_calls
 * {id, type: "function", function: {name, arguments: string}}, usage). It is not a model and decides
 * nothing itself: tests plant exactly the plans, user turns, candidates, revisions and verdicts they
 * need. Every request is recorded so a test can count and inspect them.
 */
import {
  ASSISTANT_MARKER,
  DIALOGUE_PLAN_MARKER,
  markerPattern,
  NEGOTIATION_MARKER,
  REFLECT_MARKER,
  TOOL_SERVER_MARKER,
  USER_TURN_MARKER,
} from "../../src/dialogue/protocol.js";
import type { ChatMessage } from "../../src/domain/types.js";
import { parseCaseMessage } from "../../src/judging/protocol.js";
import { LlmClient } from "../../src/llm/client.js";
import { chatCompletion, chatError, startScriptedChatServer } from "./scriptedChatServer.js";

export const SCRIPTED_ROLES = ["planner", "user", "assistant", "reflect", "negotiation", "toolServer"] as const;
export type ScriptedRole = (typeof SCRIPTED_ROLES)[number];

const MARKERS: [ScriptedRole, RegExp][] = [
  ["planner", markerPattern(DIALOGUE_PLAN_MARKER)],
  ["user", markerPattern(USER_TURN_MARKER)],
  ["assistant", markerPattern(ASSISTANT_MARKER)],
  ["reflect", markerPattern(REFLECT_MARKER)],
  ["negotiation", markerPattern(NEGOTIATION_MARKER)],
  ["toolServer", markerPattern(TOOL_SERVER_MARKER)],
];

export interface RoleRequest {
  role: ScriptedRole;
  model: string;
  seed: number | undefined;
  temperature: number | undefined;
  messages: ChatMessage[];
  /** The case of the newest user message carrying one (absent for the assistant's plain chat). */
  case: Record<string, unknown> | undefined;
  /** Structured-output repair turns already in the request (0 for a first attempt). */
  repairs: number;
  body: Record<string, unknown>;
}

/**
 * Text and/or calls (arguments other than a string are sent as their JSON; finishReason overrides the
 * server's "stop" / "tool_calls", e.g. "length" for a turn cut off at max_tokens), JSON as the content,
 * or an HTTP error.
 */
export type ScriptedReply =
  | { content?: string | null; toolCalls?: { name: string; arguments: unknown; id?: string }[]; finishReason?: string }
  | { json: unknown }
  | { httpStatus: number; message: string };

export type RoleScripts = Partial<Record<ScriptedRole, (req: RoleRequest) => ScriptedReply>>;

export interface ScriptedRoles {
  url: string;
  requests: RoleRequest[];
  /** Replace the scripts (a test reuses one server for several scenarios). */
  script(scripts: RoleScripts): void;
  /** Requests of one role. */
  of(role: ScriptedRole): RoleRequest[];
  /** A client for a role against this server (no retries, so a test sees each request once). */
  client(role: string, model?: string): LlmClient;
  close(): Promise<void>;
}

const REPAIR_PREFIX = "Your reply could not be used:";

export async function startScriptedRoles(initial: RoleScripts = {}): Promise<ScriptedRoles> {
  const requests: RoleRequest[] = [];
  let scripts = initial;
  let n = 0;
  const server = await startScriptedChatServer("scripted roles", (body) => {
    const messages = body.messages as ChatMessage[];
    const system = messages[0]?.role === "system" ? messages[0].content : "";
    const role = MARKERS.find(([, re]) => re.test(system))?.[0];
    if (!role) return chatError(400, "scripted roles: no dialogue task marker in the system message");
    const userTexts = messages.filter((m) => m.role === "user").map((m) => m.content);
    const rr: RoleRequest = {
      role,
      model: String(body.model),
      seed: typeof body.seed === "number" ? body.seed : undefined,
      temperature: typeof body.temperature === "number" ? body.temperature : undefined,
      messages,
      case:
        role === "assistant"
          ? undefined
          : [...userTexts]
              .reverse()
              .map(parseCaseMessage)
              .find((c) => c !== undefined),
      repairs: userTexts.filter((t) => t.startsWith(REPAIR_PREFIX)).length,
      body,
    };
    requests.push(rr);
    const fn = scripts[role];
    if (!fn) return chatError(400, `scripted roles: no script for role ${role}`);
    let a: ScriptedReply;
    try {
      a = fn(rr);
    } catch (err) {
      return chatError(400, `scripted roles: the ${role} script threw: ${(err as Error).message}`);
    }
    if ("httpStatus" in a) return chatError(a.httpStatus, a.message);
    const message =
      "json" in a
        ? { role: "assistant", content: JSON.stringify(a.json) }
        : {
            role: "assistant",
            content: a.content ?? null,
            ...(a.toolCalls && a.toolCalls.length > 0
              ? {
                  tool_calls: a.toolCalls.map((c, i) => ({
                    id: c.id ?? `chatcmpl-tool-${n}-${i}`,
                    type: "function",
                    function: { name: c.name, arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments) },
                  })),
                }
              : {}),
          };
    const finishReason = "finishReason" in a ? a.finishReason : undefined;
    return chatCompletion({
      id: `chatcmpl-scripted-${++n}`,
      model: rr.model,
      message,
      usage: { prompt_tokens: 20, completion_tokens: 10 },
      ...(finishReason !== undefined ? { finishReason } : {}),
    });
  });
  const url = server.url;
  return {
    url,
    requests,
    script: (s) => {
      scripts = s;
    },
    of: (role) => requests.filter((r) => r.role === role),
    client: (role, model = `${role}-model`) => new LlmClient({ baseUrl: url, model, role, timeoutMs: 10_000, maxRetries: 0, maxConcurrency: 16 }),
    close: server.close,
  };
}
