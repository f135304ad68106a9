/**
 * Where a dialogue's tool calls are executed: one interface, so a campaign can use the LLM-played MCP
 * server simulator (the `toolServer` role) or, once the tool-library work adds it, a real MCP server.
 *
 * Exactly-once on the executor's side is the engine's job, not the executor's: the engine records
 * each call (status "started") before handing it here and the result ("done") after, and on resume
 * reuses a recorded result instead of calling again. A call recorded as started with no result (the
 * worker died while it ran) is re-executed only by an executor that declares itself `idempotent`;
 * for any other the dialogue ends there, because nobody can know whether the side effect happened.
 */
import type { McpTool } from "../domain/types.js";
import type { ToolErrorType, ToolHistoryEntry, ToolResult } from "./protocol.js";

export interface ToolCallRequest {
  /** The dialogue the call belongs to (a session, for a stateful server). */
  dialogueId: string;
  /** The assistant's tool_call id: with dialogueId, the idempotency key a real server may honour. */
  callId: string;
  name: string;
  arguments: unknown;
  /** The tool definition, when the name is one of the offered tools. */
  tool: McpTool | undefined;
  /** Earlier calls of this dialogue with their results, in order (for consistency). */
  history: readonly ToolHistoryEntry[];
  /** Set when the engine decided (seeded, at the configured rate) that this call meets realistic trouble. */
  injectError?: ToolErrorType;
}

export interface ToolExecutor {
  /** For messages and provenance: "simulated MCP server (role toolServer)", "mcp stdio:./server.js", ... */
  readonly describe: string;
  /** Running a call twice has no effect beyond running it once (the simulator: a pure function of the session). */
  readonly idempotent: boolean;
  /** Whether results come from a simulation (recorded in the sample's provenance). */
  readonly simulated: boolean;
  execute(call: ToolCallRequest, signal: AbortSignal): Promise<ToolResult>;
}
