/**
 * The one dispatch point of the multi-turn roles (scripts.ts calls it before the single-turn tool
 * agent): a request is answered here when its system prompt carries a dialogue task marker
 * (src/dialogue/protocol.ts), or when it is a chat request with tools whose last message is a tool
 * result (the next call or the final answer; this also completes single-turn trajectories), or when
 * it is addressed as a trained policy is: no role-play marker at all, the dialogue assistant's
 * instructions as its system prompt (a stored dialogue's prompt as the exports write it, which
 * probe.greedy and the scoring stages send). Roles
 * that answer JSON put it in `content` as vLLM does under `response_format: json_schema`; the
 * assistant and the reflection answer with OpenAI tool calls or text.
 */
import { stringifyJsonExact } from "../../../util/exactJson.js";
import { canonicalJson, sha256Hex } from "../../../util/ids.js";
import type { ChatRequestBody } from "../requests.js";
import type { ScriptedChat } from "../scripts.js";
import { pythonJson } from "../tokenizer.js";
import { assistantReply, type AssistantReply } from "./assistant.js";
import { caseOf, isObject, isUnmarkedDialoguePrompt, markedRole, simToolsOf } from "./cases.js";
import { negotiate, parseNegotiationCase } from "./negotiation.js";
import type { DialogueSimOptions } from "./options.js";
import { parsePlanCase, planAnswer } from "./planner.js";
import { parseReflectCase, revise } from "./reflect.js";
import { checkSample } from "./sampleCheck.js";
import { dialogueRng } from "./streams.js";
import { parseToolServerCase, toolServerAnswer } from "./toolServer.js";
import { parseUserCase, userTurn } from "./user.js";

export const DIALOGUE_CHAT_ROLES = [
  "dialogue-planner",
  "dialogue-user",
  "dialogue-assistant",
  "dialogue-tool-server",
  "dialogue-reflect",
  "dialogue-negotiation",
  "dialogue-sample-check",
] as const;
export type DialogueChatRole = (typeof DIALOGUE_CHAT_ROLES)[number];

export interface DialogueScriptOptions {
  rates: Required<DialogueSimOptions>;
  /** How often a simulated judge's verdict is wrong (the sample checker shares it with the single-turn judges). */
  judgeErrorRate: number;
}

/** A JSON answer; a bigint (an id the tool server echoes) is written with its digits, anything else as JSON.stringify writes it. */
function json(value: unknown, role: DialogueChatRole, fault?: string): ScriptedChat {
  return { content: stringifyJsonExact(value), toolCalls: [], role, ...(fault ? { fault } : {}) };
}

/** An assistant reply on the wire: tool calls with vLLM-style ids and Python-json arguments. */
function assistantChat(body: ChatRequestBody, seed: number, reply: AssistantReply, role: DialogueChatRole): ScriptedChat {
  const callSeed = sha256Hex(`${seed}\u0000dialogue\u0000${canonicalJson(body)}`);
  const toolCalls = reply.calls.map((c, i) => ({
    id: `chatcmpl-tool-${sha256Hex(`${callSeed}:${i}`).slice(0, 32)}`,
    name: c.name,
    arguments: pythonJson(c.args),
  }));
  return { content: reply.calls.length > 0 ? null : reply.content, toolCalls, role, ...(reply.fault ? { fault: reply.fault } : {}) };
}

export function scriptDialogue(body: ChatRequestBody, seed: number, o: DialogueScriptOptions): ScriptedChat | undefined {
  const messages = body.messages;
  const role = markedRole(messages);
  const tools = simToolsOf(body.tools ?? []);
  const toolsOn = tools.length > 0 && body.tool_choice !== "none";
  // Every role's case is read with every digit (an order id past 2^53 is a bigint), so what a role echoes keeps it.
  const c = role && role !== "assistant" && role !== "reflect" ? caseOf(messages) : undefined;

  switch (role) {
    case "planner": {
      const plan = c && parsePlanCase(c);
      if (!plan) return undefined;
      const a = planAnswer(seed, plan, body, o.rates);
      return json(a.plan, "dialogue-planner", a.bad ? "bad_plan" : undefined);
    }
    case "user": {
      const u = c && parseUserCase(c);
      return u ? json(userTurn(seed, u, o.rates), "dialogue-user") : undefined;
    }
    case "tool-server": {
      const t = c && parseToolServerCase(c);
      if (!t) return undefined;
      const a = toolServerAnswer(seed, t, o.rates);
      return { ...json(a.result, "dialogue-tool-server"), ...(a.error ? { toolServerError: a.error } : {}) };
    }
    case "negotiation": {
      const n = c && parseNegotiationCase(c);
      return n ? json(negotiate(seed, n), "dialogue-negotiation") : undefined;
    }
    case "sample-check": {
      if (!c) return undefined;
      const a = checkSample(dialogueRng("sample-check", seed, body), seed, messages, c, o.judgeErrorRate);
      return a ? json({ verdict: a.verdict, analysis: a.analysis }, "dialogue-sample-check") : undefined;
    }
    case "reflect": {
      const r = parseReflectCase(messages);
      if (!r) return undefined;
      return assistantChat(body, seed, revise(seed, r, toolsOn ? tools : []), "dialogue-reflect");
    }
    case "assistant":
      return assistantChat(body, seed, assistantReply({ seed, body, messages, tools: toolsOn ? tools : [], rates: o.rates }), "dialogue-assistant");
    case undefined: {
      if (!toolsOn) return undefined;
      const last = messages.at(-1);
      // The policy asked about a dialogue's turn answers as the dialogue's assistant did (a real model reads the same prompt).
      if ((!isObject(last) || last.role !== "tool") && !isUnmarkedDialoguePrompt(messages)) return undefined;
      return assistantChat(body, seed, assistantReply({ seed, body, messages, tools, rates: o.rates }), "dialogue-assistant");
    }
  }
}
