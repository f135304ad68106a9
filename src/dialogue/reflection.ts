/**
 * InfTool's self-reflection: an assistant candidate that breaks a rule (candidateCheck.ts) gets ONE
 * reflect-and-revise call to the assistant role with the critique; the revision is checked by the same
 * rules. The original, the critique and the revision are kept (Reflection) for analysis; a revision
 * that still breaks a rule leaves the candidate invalid. Bounded on purpose: a model that cannot fix
 * its turn given the exact problems is not producing training data for that turn.
 */
import { toOpenAiTool, type ChatMessage, type McpTool } from "../domain/types.js";
import type { LlmClient } from "../llm/client.js";
import { LlmError } from "../llm/errors.js";
import { checkCandidate, type AssistantMessage } from "./candidateCheck.js";
import { reflectMessages } from "./protocol.js";
import type { Reflection } from "./types.js";

export interface ReflectInput {
  /** The assistant role (the model revises its own turn). */
  client: LlmClient;
  /** The dialogue so far (what the candidate answered). */
  dialogue: readonly ChatMessage[];
  tools: readonly McpTool[];
  original: AssistantMessage;
  /** The original's violations: the critique. */
  critique: string[];
  seed: number;
  temperature?: number;
  maxTextChars?: number;
  signal: AbortSignal;
}

/** The assistant message as stored: tool_calls only when there are some. */
export function assistantMessage(m: { content: string | null; tool_calls?: AssistantMessage["tool_calls"] }): AssistantMessage {
  return { role: "assistant", content: m.content, ...(m.tool_calls && m.tool_calls.length > 0 ? { tool_calls: m.tool_calls } : {}) };
}

export async function reflectAndRevise(p: ReflectInput): Promise<Reflection> {
  let revision: AssistantMessage;
  let finishReason: string;
  try {
    const res = await p.client.chat(
      {
        messages: reflectMessages({ dialogue: p.dialogue, original: p.original, critique: p.critique }),
        tools: p.tools.map(toOpenAiTool),
        toolChoice: "auto",
        seed: p.seed,
        ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
      },
      { signal: p.signal },
    );
    revision = assistantMessage(res.message);
    finishReason = res.finishReason;
  } catch (err) {
    // An answer that cannot be read is a failed revision, not a failed dialogue; transport errors propagate.
    if (err instanceof LlmError && err.kind === "bad_response")
      return { original: p.original, critique: p.critique, revision: null, stillInvalid: [`the revision could not be read: ${err.message.slice(0, 300)}`] };
    throw err;
  }
  const stillInvalid = checkCandidate(revision, p.tools, { ...(p.maxTextChars !== undefined ? { maxTextChars: p.maxTextChars } : {}), finishReason });
  return { original: p.original, critique: p.critique, revision, stillInvalid };
}
