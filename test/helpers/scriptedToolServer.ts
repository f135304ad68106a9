/**
 * A SCRIPTED tool server and tool agent for trajectory tests: a tiny OpenAI-compatible server that
 * answers the MCP server simulator's requests (the `### task: tool-server` marker) with a result
 * computed from the case, and a chat request WITH tools whose last message is a `tool` message with
 * the tool agent's next step (by default a final text answer quoting the results). Any other request
 * is forwarded to `forwardTo` (the LLM simulator, which writes queries and labels), or refused.
 * It is not a model and decides nothing itself: tests plant exactly the results and steps they need.
 */
import { TOOL_SERVER_MARKER, type ToolHistoryEntry, type ToolResult } from "../../src/dialogue/protocol.js";
import { parseCaseMessage } from "../../src/judging/protocol.js";
import { chatCompletion, chatError, startScriptedChatServer } from "./scriptedChatServer.js";

export interface ToolServerCase {
  tool: { function: { name: string } } | null;
  call: { name: string; arguments: unknown };
  history: ToolHistoryEntry[];
}

type WireMessage = { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string };

/** The agent's next step: a text answer (finishReason "length": cut off at max_tokens), or further calls (arguments as objects). */
export type AgentStep = { content: string; finishReason?: string } | { calls: { name: string; arguments: Record<string, unknown> }[] };

export interface ScriptedToolServer {
  url: string;
  toolServerCases: ToolServerCase[];
  /** Every agent request's messages (the conversation so far, tool messages included). */
  agentRequests: WireMessage[][];
  forwarded: number;
  close(): Promise<void>;
}

const defaultResult = (c: ToolServerCase): ToolResult => ({ ok: true, result: { tool: c.call.name, echo: c.call.arguments, earlierCalls: c.history.length } });
const defaultStep = (messages: WireMessage[]): AgentStep => {
  const results = messages.filter((m) => m.role === "tool").map((m) => m.content);
  return { content: `Here is what I found: ${results.join("; ")}` };
};

export async function startScriptedToolServer(
  opts: { result?: (c: ToolServerCase) => ToolResult; step?: (messages: WireMessage[]) => AgentStep; forwardTo?: string } = {},
): Promise<ScriptedToolServer> {
  const result = opts.result ?? defaultResult;
  const step = opts.step ?? defaultStep;
  const state: Omit<ScriptedToolServer, "url" | "close"> = { toolServerCases: [], agentRequests: [], forwarded: 0 };
  let n = 0;
  const server = await startScriptedChatServer("scripted tool server", async (parsed, raw) => {
    const body = parsed as { model: string; messages: WireMessage[]; tools?: unknown[] };
    const completion = (message: Record<string, unknown>, finishReason?: string) =>
      chatCompletion({ id: `chatcmpl-scripted-tools-${++n}`, model: body.model, message, ...(finishReason ? { finishReason } : {}) });
    const system = body.messages.find((m) => m.role === "system")?.content ?? "";
    const last = body.messages[body.messages.length - 1];
    if (system.includes(TOOL_SERVER_MARKER)) {
      const user = [...body.messages].reverse().find((m) => m.role === "user");
      const c = parseCaseMessage(user?.content ?? "") as ToolServerCase | undefined;
      if (!c) return chatError(400, "scripted tool server: no case in the tool-server request");
      state.toolServerCases.push(c);
      return completion({ content: JSON.stringify(result(c)) });
    }
    if (Array.isArray(body.tools) && last?.role === "tool") {
      state.agentRequests.push(body.messages);
      const s = step(body.messages);
      if ("content" in s) return completion({ content: s.content }, s.finishReason);
      const calls = s.calls.map((c, i) => ({
        id: `call_s${n + 1}_${i}`,
        type: "function",
        function: { name: c.name, arguments: JSON.stringify(c.arguments) },
      }));
      return completion({ content: null, tool_calls: calls });
    }
    if (!opts.forwardTo) return chatError(400, "scripted tool server: not a tool-server or follow-up request");
    state.forwarded++;
    const r = await fetch(`${opts.forwardTo}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: raw });
    const headers: Record<string, string> = { "content-type": r.headers.get("content-type") ?? "application/json" };
    const mark = r.headers.get("x-toolloop-simulator");
    if (mark) headers["x-toolloop-simulator"] = mark;
    return { status: r.status, raw: await r.text(), headers };
  });
  return Object.assign(state, {
    url: server.url,
    close: server.close,
  });
}
