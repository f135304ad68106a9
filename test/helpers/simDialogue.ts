/**
 * Plays one dialogue against anything that answers chat requests (the simulator's scriptChat in
 * process, or its HTTP server), with the protocol's message builders and no engine: planner, then
 * user turns, each answered by assistant rounds whose tool calls go to the tool server, until the user
 * says done or the turns run out. Tool call ids are rewritten `call_<seq>_<i>` as the engine does.
 * For simulator tests only: what each role said is returned for the test to inspect.
 */
import type { ChatMessage, McpTool, ToolCall } from "../../src/domain/types.js";
import { toOpenAiTool } from "../../src/domain/types.js";
import {
  ASSISTANT_SYSTEM,
  dialoguePlanSchema,
  PLAN_RESPONSE_FORMAT,
  planMessages,
  TOOL_RESULT_RESPONSE_FORMAT,
  toolMessageContent,
  toolResultSchema,
  toolServerMessages,
  USER_TURN_RESPONSE_FORMAT,
  userTurnMessages,
  userTurnSchema,
  type DialoguePlan,
  type PlanNeed,
  type ToolHistoryEntry,
  type ToolResult,
  type UserTurn,
  type UserView,
} from "../../src/dialogue/protocol.js";
import { normaliseDialogueOptions, type DialogueSimOptions } from "../../src/llm/simulator/dialogue/options.js";
import { chatRequestSchema } from "../../src/llm/simulator/requests.js";
import { scriptChat, type ScriptedChat } from "../../src/llm/simulator/scripts.js";

export interface ChatAnswer {
  content: string | null;
  tool_calls?: ToolCall[];
}

/** Sends one chat request body and returns the first choice's message. */
export type Ask = (body: Record<string, unknown>) => Promise<ChatAnswer>;

export interface PlayedDialogue {
  plan: DialoguePlan;
  messages: ChatMessage[];
  userTurns: UserTurn[];
  results: { name: string; arguments: unknown; result: ToolResult }[];
  finished: boolean;
}

export async function playDialogue(
  ask: Ask,
  p: {
    tools: McpTool[];
    targetTurns: number;
    needs?: Record<PlanNeed, number>;
    persona?: string;
    style?: string;
    maxTurns?: number;
    maxToolRounds?: number;
    seed?: number;
    userGetsTools?: boolean;
  },
): Promise<PlayedDialogue> {
  const openAiTools = p.tools.map(toOpenAiTool);
  const needs = p.needs ?? { single: 0.5, multi: 0.3, parallel: 0.2 };
  const planAnswer = await ask({
    messages: planMessages({ tools: p.tools, targetTurns: p.targetTurns, needs }),
    response_format: { type: "json_schema", json_schema: PLAN_RESPONSE_FORMAT },
    temperature: 0,
  });
  const plan = dialoguePlanSchema.parse(JSON.parse(planAnswer.content ?? ""));
  const persona = p.persona ?? "a parent organising a family event";
  const style = p.style ?? "casual";
  const maxTurns = p.maxTurns ?? 15;
  const messages: ChatMessage[] = [{ role: "system", content: ASSISTANT_SYSTEM }];
  const transcript: UserView[] = [];
  const userTurns: UserTurn[] = [];
  const results: PlayedDialogue["results"] = [];
  let finished = false;
  for (let turn = 0; turn < maxTurns; turn++) {
    const u = await ask({
      messages: userTurnMessages({ plan, persona, style, transcript, turn, maxTurns, ...(p.userGetsTools === false ? {} : { tools: p.tools }) }),
      response_format: { type: "json_schema", json_schema: USER_TURN_RESPONSE_FORMAT },
      temperature: 0,
    });
    const user = userTurnSchema.parse(JSON.parse(u.content ?? ""));
    userTurns.push(user);
    if (user.action === "done") {
      finished = true;
      break;
    }
    messages.push({ role: "user", content: user.message });
    transcript.push({ role: "user", content: user.message, step: user.step });
    for (let round = 0; round < (p.maxToolRounds ?? 4); round++) {
      const a = await ask({ messages, tools: openAiTools, tool_choice: "auto", temperature: 0, seed: p.seed ?? 0 });
      const seq = messages.length;
      const calls = (a.tool_calls ?? []).map((c, i) => ({ ...c, id: `call_${seq}_${i}` }));
      messages.push(calls.length > 0 ? { role: "assistant", content: a.content, tool_calls: calls } : { role: "assistant", content: a.content ?? "" });
      if (calls.length === 0) {
        transcript.push({ role: "assistant", content: a.content ?? "" });
        break;
      }
      for (const call of calls) {
        const args: unknown = JSON.parse(call.function.arguments);
        const history: ToolHistoryEntry[] = results.map((r) => ({ name: r.name, arguments: r.arguments, result: r.result }));
        const s = await ask({
          messages: toolServerMessages({
            tool: p.tools.find((t) => t.name === call.function.name),
            call: { name: call.function.name, arguments: args },
            history,
          }),
          response_format: { type: "json_schema", json_schema: TOOL_RESULT_RESPONSE_FORMAT },
          temperature: 0,
        });
        const result = toolResultSchema.parse(JSON.parse(s.content ?? ""));
        results.push({ name: call.function.name, arguments: args, result });
        messages.push({ role: "tool", tool_call_id: call.id, content: toolMessageContent(result) });
      }
    }
  }
  return { plan, messages, userTurns, results, finished };
}

/** An Ask that calls the simulator's scripts in process (no HTTP), with the given dialogue rates. */
export function inProcessAsk(seed: number, options: { dialogue?: DialogueSimOptions; judgeErrorRate?: number } = {}): Ask {
  const dialogue = normaliseDialogueOptions(options.dialogue);
  return async (body) => {
    const s = scriptChat(chatRequestSchema.parse(body), seed, 0, undefined, { dialogue, judgeErrorRate: options.judgeErrorRate ?? 0 });
    return {
      content: s.content,
      ...(s.toolCalls.length > 0
        ? { tool_calls: s.toolCalls.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: c.arguments } })) }
        : {}),
    };
  };
}

/** The same, synchronous, returning the scripted answer itself (role, fault). */
export function scriptedAnswer(
  seed: number,
  body: Record<string, unknown>,
  options: { dialogue?: DialogueSimOptions; judgeErrorRate?: number } = {},
): ScriptedChat {
  return scriptChat(chatRequestSchema.parse(body), seed, 0, undefined, {
    dialogue: normaliseDialogueOptions(options.dialogue),
    judgeErrorRate: options.judgeErrorRate ?? 0,
  });
}
