/**
 * The MCP server simulator as a ToolExecutor: the campaign's `toolServer` role (an LLM, or the
 * toolloop simulator) plays the server, given the tool, the call, the session's earlier calls and
 * results, and, when the engine drew one, the error to produce. Its answers are read under the
 * tool_result schema with one bounded repair; an answer that still cannot be read becomes an
 * `unavailable` error result (the server misbehaved, the assistant's call was not wrong) worded as a
 * real service would word it: the tool message is what the assistant answers and what a trained model
 * learns from, so why it could not be read (our endpoint, model and parse error) goes in `detail` only.
 * An integer in a result that a double cannot hold keeps its digits in the tool message (exactToolResult).
 * Idempotent: the answer depends only on the request (the session's history is part of it).
 */
import type { ChatResult, LlmClient } from "../llm/client.js";
import { LlmError } from "../llm/errors.js";
import { SIMULATOR_TOOL_SERVER_ERROR_FIELD } from "../llm/simulatorMark.js";
import type { ToolCallRequest, ToolExecutor } from "./executor.js";
import {
  exactToolResult,
  SIMULATED_TOOL_SERVER_CAUSES,
  TOOL_RESULT_RESPONSE_FORMAT,
  toolResultSchema,
  toolServerMessages,
  type SimulatedToolServerCause,
  type ToolResult,
} from "./protocol.js";

/** The tool message for a tool-server answer that could not be read: an outage, as a service reports one. */
export const UNREADABLE_ANSWER_MESSAGE = "The service is temporarily unavailable. Please try again later.";

export class LlmToolServer implements ToolExecutor {
  readonly idempotent = true;
  readonly simulated = true;
  readonly describe: string;

  constructor(private readonly client: LlmClient) {
    this.describe = `simulated MCP server (role ${client.role}, model ${client.model})`;
  }

  async execute(call: ToolCallRequest, signal: AbortSignal): Promise<ToolResult> {
    const messages = toolServerMessages({
      tool: call.tool,
      call: { name: call.name, arguments: call.arguments },
      history: call.history,
      ...(call.injectError ? { fail: call.injectError } : {}),
    });
    // Whether the toolloop LLM simulator gave the answer read (its scripted server, not a model): recorded with the result.
    let simulated = false;
    let cause: SimulatedToolServerCause | undefined;
    try {
      // Read with every integer's digits: the result becomes a tool message a model is trained on.
      const answer = await this.client.structured({ messages, responseFormat: TOOL_RESULT_RESPONSE_FORMAT, temperature: 0 }, toolResultSchema, {
        signal,
        maxRepairs: 1,
        exactIntegers: true,
        onAnswer: (reply) => {
          simulated = reply.simulated;
          cause = simulatedErrorCause(reply);
        },
      });
      // Why the simulator chose an error of its own (not one the engine asked for): its rules, or its random faults.
      const own = simulated && !answer.ok && !call.injectError ? cause : undefined;
      return { ...exactToolResult(answer), ...(simulated ? { simulated: true as const } : {}), ...(own ? { simulatedCause: own } : {}) };
    } catch (err) {
      // The simulator's unreadable answer is still the simulator's (SIMULATED in reports); a real server's is not marked.
      if (err instanceof LlmError && err.kind === "bad_response")
        return {
          ok: false,
          error: { type: "unavailable", message: UNREADABLE_ANSWER_MESSAGE },
          detail: `the tool server's answer could not be read: ${err.message.slice(0, 300)}`,
          ...(err.fromSimulator ? { simulated: true as const } : {}),
        };
      throw err;
    }
  }
}

/** Why the simulator's tool server answered with an error of its own, as its completion says beside the answer; a real server's reply never counts. */
function simulatedErrorCause(reply: ChatResult): SimulatedToolServerCause | undefined {
  if (!reply.simulated || reply.raw === null || typeof reply.raw !== "object") return undefined;
  const said = (reply.raw as Record<string, unknown>)[SIMULATOR_TOOL_SERVER_ERROR_FIELD];
  return (SIMULATED_TOOL_SERVER_CAUSES as readonly unknown[]).includes(said) ? (said as SimulatedToolServerCause) : undefined;
}
