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
import type { LlmClient } from "../llm/client.js";
import { LlmError } from "../llm/errors.js";
import type { ToolCallRequest, ToolExecutor } from "./executor.js";
import { exactToolResult, TOOL_RESULT_RESPONSE_FORMAT, toolResultSchema, toolServerMessages, type ToolResult } from "./protocol.js";

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
    try {
      // Read with every integer's digits: the result becomes a tool message a model is trained on.
      const answer = await this.client.structured({ messages, responseFormat: TOOL_RESULT_RESPONSE_FORMAT, temperature: 0 }, toolResultSchema, {
        signal,
        maxRepairs: 1,
        exactIntegers: true,
        onAnswer: (reply) => {
          simulated = reply.simulated;
        },
      });
      return { ...exactToolResult(answer), ...(simulated ? { simulated: true as const } : {}) };
    } catch (err) {
      if (err instanceof LlmError && err.kind === "bad_response")
        return {
          ok: false,
          error: { type: "unavailable", message: UNREADABLE_ANSWER_MESSAGE },
          detail: `the tool server's answer could not be read: ${err.message.slice(0, 300)}`,
        };
      throw err;
    }
  }
}
