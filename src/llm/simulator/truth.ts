/**
 * The simulator's truth channel (contract E), for tests, the benchmark and the demo's printed
 * numbers only: no stage may import it (eslint `no-restricted-imports` for src/stages and
 * src/framework). The simulated user query was written from concrete calls (queryWriter.ts); reading
 * it back with the tool agent making no mistake at all gives those calls, the intent. A label that
 * disagrees with the intent is wrong, whatever any judge says.
 */
import { stringifyJsonExact } from "../../util/exactJson.js";
import type { ChatMessage, McpTool, ToolCall } from "../../domain/types.js";
import { compareToLabel, labelOf, promptOf, type AssistantAnswer } from "../../matching/labelAgreement.js";
import { SeededRandom } from "../../util/random.js";
import type { SimTool } from "./queryWriter.js";
import { runToolAgent, type AgentCall } from "./toolAgent.js";

export interface TruthSample {
  messages: ChatMessage[];
  tools: McpTool[];
}

export function simToolOf(tool: McpTool): SimTool {
  return { name: tool.name, description: tool.description, parameters: tool.inputSchema as Record<string, unknown> };
}

export function mcpToolOf(tool: SimTool): McpTool {
  return { name: tool.name, description: tool.description, inputSchema: { type: "object", ...tool.parameters } as McpTool["inputSchema"] };
}

/** The calls a conversation's last user message was written from: the mistake-free tool agent's reading. */
export function intentCalls(messages: readonly unknown[], tools: SimTool[]): AgentCall[] {
  if (tools.length === 0) return [];
  // No mistake and an auto choice: the agent draws nothing that changes its calls.
  return runToolAgent(new SeededRandom(0), { messages, tools, choice: { mode: "auto" }, mistakeRate: 0 }).calls;
}

/** Calls as an assistant message on the wire (arguments as JSON strings). */
export function answerOf(calls: readonly AgentCall[], content: string | null = null): AssistantAnswer {
  const toolCalls: ToolCall[] = calls.map((c, i) => ({
    id: `truth-${i}`,
    type: "function",
    function: { name: c.name, arguments: stringifyJsonExact(c.args) },
  }));
  return { content, tool_calls: toolCalls };
}

/** The calls the simulated user query of this sample was written from (no mistake made reading them back). */
export function simulatedIntent(sample: TruthSample): { name: string; args: Record<string, unknown> }[] {
  return intentCalls(promptOf(sample.messages), sample.tools.map(simToolOf));
}

/** Whether the sample's label (its last assistant message) disagrees with the intent; a sample without one is wrong. */
export function labelIsWrong(sample: TruthSample): boolean {
  const label = labelOf(sample.messages);
  if (!label) return true;
  return !compareToLabel(label, answerOf(simulatedIntent(sample)), sample.tools).agrees;
}

export function labelErrorRate(samples: Iterable<TruthSample>): { wrong: number; total: number; rate: number } {
  let wrong = 0;
  let total = 0;
  for (const s of samples) {
    total++;
    if (labelIsWrong(s)) wrong++;
  }
  return { wrong, total, rate: total === 0 ? 0 : wrong / total };
}
