/**
 * Whole single-turn trajectories: a single-turn sample stops at the assistant's tool calls (its
 * label), so SFT data built from it never shows a tool result or the answer the user gets. This
 * completes it: each call is executed through a ToolExecutor (the MCP server simulator over the
 * `toolServer` role, or a real server), its result appended as a `tool` message, and the tool agent
 * (the role that wrote the label, with the same offered tools) asked for the next step, until it
 * answers in text or `maxRounds` further assistant steps were asked. Pure over an LlmClient and a
 * ToolExecutor; the caller stores the result beside the sample, whose messages stay as they are.
 */
import type { ToolExecutor } from "../dialogue/executor.js";
import { historyResult, toolMessageContent, type ToolHistoryEntry } from "../dialogue/protocol.js";
import type { ChatMessage, McpTool, ToolCall } from "../domain/types.js";
import { toOpenAiTool } from "../domain/types.js";
import type { LlmClient } from "../llm/client.js";

export interface Trajectory {
  /** What follows the label: tool messages, further assistant steps with their results, the final assistant text. */
  messages: ChatMessage[];
  /**
   * final: the agent answered in text; maxRounds: the limit stopped it after a tool result (no final
   * answer); cutOff: the server cut the agent's next step off at max_tokens (finish_reason "length"),
   * so it is left out and there is no final answer either.
   */
  outcome: "final" | "maxRounds" | "cutOff";
  /** Assistant steps asked after the label. */
  rounds: number;
  /** Tool calls executed. */
  calls: number;
  /** The executor's description (e.g. the simulated MCP server and its model). */
  executor: string;
  /** Whether the tool results come from a simulation. */
  simulatedResults: boolean;
}

function assistantOf(m: { content: string | null; tool_calls?: readonly ToolCall[] }): ChatMessage {
  const calls = m.tool_calls ?? [];
  if (calls.length === 0) return { role: "assistant", content: m.content ?? null };
  return {
    role: "assistant",
    content: m.content ?? null,
    tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.function.name, arguments: c.function.arguments } })),
  };
}

/** For the simulated tool only (integers as doubles: one above 2^53 reaches it rounded); the label keeps the model's text. */
function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Completes the sample whose messages end with the assistant's label. A label without tool calls is
 * already whole: the trajectory is empty and final. Calls run one after another (so a stateful
 * server sees them in order, each with the earlier results as its history).
 */
export async function completeTrajectory(p: {
  /** The session the executor keys its state by (the sample's slot key). */
  sessionId: string;
  /** The sample's messages: the prompt and, last, the label. */
  messages: readonly ChatMessage[];
  tools: readonly McpTool[];
  agent: LlmClient;
  executor: ToolExecutor;
  maxRounds: number;
  signal?: AbortSignal;
}): Promise<Trajectory> {
  if (!Number.isInteger(p.maxRounds) || p.maxRounds < 1) throw new Error(`completeTrajectory: maxRounds must be a positive integer (got ${p.maxRounds})`);
  const label = p.messages[p.messages.length - 1];
  if (!label || label.role !== "assistant") throw new Error(`completeTrajectory: ${p.sessionId} does not end with an assistant turn`);
  const signal = p.signal ?? new AbortController().signal;
  const byName = new Map(p.tools.map((t) => [t.name, t]));
  const offered = p.tools.map(toOpenAiTool);
  const history: ToolHistoryEntry[] = [];
  const added: ChatMessage[] = [];
  let pending = label.tool_calls ?? [];
  let rounds = 0;
  let calls = 0;
  const result = (outcome: Trajectory["outcome"]): Trajectory => ({
    messages: added,
    outcome,
    rounds,
    calls,
    executor: p.executor.describe,
    simulatedResults: p.executor.simulated,
  });
  while (pending.length > 0) {
    for (const call of pending) {
      if (signal.aborted) throw signal.reason ?? new Error("cancelled");
      const args = parseArguments(call.function.arguments);
      const r = await p.executor.execute(
        { dialogueId: p.sessionId, callId: call.id, name: call.function.name, arguments: args, tool: byName.get(call.function.name), history: [...history] },
        signal,
      );
      history.push({ name: call.function.name, arguments: args, result: historyResult(r) });
      added.push({ role: "tool", tool_call_id: call.id, content: toolMessageContent(r) });
      calls++;
    }
    if (rounds >= p.maxRounds) return result("maxRounds");
    const res = await p.agent.chat({ messages: [...p.messages, ...added], tools: offered, toolChoice: "auto" }, { signal });
    rounds++;
    // A step cut off mid-way (a sentence, or a call vLLM returns as raw text) is no answer to append.
    if (res.finishReason === "length") return result("cutOff");
    const step = assistantOf(res.message);
    added.push(step);
    pending = step.role === "assistant" ? (step.tool_calls ?? []) : [];
  }
  return result("final");
}

/** The trajectory stored in a sample's metadata (metadata.trajectory), when there is one. */
export function storedTrajectory(metadata: Record<string, unknown> | null | undefined): Trajectory | undefined {
  const t = metadata?.trajectory as Partial<Trajectory> | undefined;
  if (!t || typeof t !== "object" || !Array.isArray(t.messages) || (t.outcome !== "final" && t.outcome !== "maxRounds" && t.outcome !== "cutOff"))
    return undefined;
  return t as Trajectory;
}

/**
 * The sample's messages with its trajectory appended (assistant calls, tool messages with their
 * tool_call_id, the final assistant text), when the trajectory reached a final answer; undefined
 * when it did not (none stored, cut by maxRounds after a tool result, or its last step cut off).
 */
export function wholeTrajectory(messages: readonly ChatMessage[], trajectory: Pick<Trajectory, "messages" | "outcome"> | undefined): ChatMessage[] | undefined {
  if (!trajectory || trajectory.outcome !== "final") return undefined;
  return [...messages, ...trajectory.messages];
}
