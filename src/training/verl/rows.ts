/**
 * One stored sample -> one verl training row (the contract in shared/contracts: data_source, prompt,
 * ability, reward_model, extra_info). The sample's last message is the label turn: an assistant
 * message whose tool calls are the ground truth (none at all means the right answer is a text reply,
 * as in irrelevance samples). Pure; a sample that cannot become a row gets a reason, never a throw.
 */
import { stringifyJson } from "../../jsonSchema/exactNumbers.js";
import { withoutTaskMarkers } from "../../export/trainingMessages.js";
import { toOpenAiTool, type ChatMessage, type McpTool, type OpenAiTool, type ToolCall } from "../../domain/types.js";
import { parseJsonAsPython, parseJsonAsPythonInOrder, stringifyJsonExact } from "../../util/exactJson.js";
import { pythonJsonDumps } from "../../util/pythonJson.js";
import { PyFloat } from "../../matching/pyValue.js";

/** Routes the reward: verl passes it to the reward function, whose shim sends it to our service. */
export const VERL_DATA_SOURCE = "toolloop";
export const VERL_ABILITY = "tool_use";

export type VerlSplit = "train" | "val";

export interface VerlPromptMessage {
  role: string;
  content: string;
}

/**
 * A message of the SFT set with OpenAI's fine-tuning `weight`: 1 for the label turn, 0 for an earlier
 * assistant turn (context the row shows, not something to learn), null for other roles. verl's stock
 * dataset trains every assistant message; train.sft's dataset class (trainer/sft) honours the weight.
 */
export interface VerlSftMessage extends VerlPromptMessage {
  weight: 0 | 1 | null;
}

/** One expected call of the label turn: arguments as an object, not the wire's JSON string. */
export interface GroundTruthCall {
  name: string;
  arguments: Record<string, unknown>;
}

/** What the reward service parses from reward_model.ground_truth. */
export interface GroundTruth {
  calls: GroundTruthCall[];
}

export interface VerlRow {
  data_source: string;
  prompt: VerlPromptMessage[];
  ability: string;
  reward_model: { style: "rule"; ground_truth: string };
  extra_info: { split: VerlSplit; index: bigint; sample_id: string; tools: string };
}

/** What the writer needs from a stored sample (a samples-table row has all of it). */
export interface VerlSourceSample {
  id: string;
  messages: ChatMessage[];
  tools: McpTool[];
  /** Times the sample appears in the train split (a pool's weight, rounded; 1 when absent). */
  repeats?: number;
  /** Samples of one group (the cuts of one multi-turn dialogue) land on the same side of the train/validation split. */
  group?: string;
}

/** A sample turned into everything the split and the files need, before its split and index are known. */
export interface PreparedSample {
  id: string;
  prompt: VerlPromptMessage[];
  groundTruth: string;
  /** The OpenAI tools list, and its JSON as extra_info carries it. */
  openAiTools: OpenAiTool[];
  tools: string;
  /** The chat messages up to and including the label turn, for the SFT set. */
  messages: ChatMessage[];
  /**
   * The same conversation as verl's SFT dataset reads it (role and content): the real messages,
   * assistant calls as Hermes text (the struct has no tool_calls), tools in the system turn and tool
   * results as `<tool_response>` user turns, both as in the prompt ("hermesSystem"), and the label
   * turn as text. verl's MultiTurnSFTDataset applies the chat template to each message alone and
   * checks the concatenation against the whole conversation: Hermes/Qwen templates open one user turn
   * for a run of tool messages, so consecutive role "tool" messages (parallel calls' results) would
   * render differently alone and stop the SFT job (`AssertionError`); one user turn per run does not.
   */
  sftMessages: VerlSftMessage[];
}

export type Prepared = { ok: true; sample: PreparedSample } | { ok: false; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * An assistant turn's calls (an earlier turn of a multi-turn prompt, and the SFT label turn) as the
 * Qwen2.5 template writes them, since a prompt message carries only role and content: one
 * `<tool_call>` block per call, `{"name": "NAME", "arguments": ARGS}` with the name as is and the
 * arguments (parsed from the wire's JSON string, as vLLM does before templating) through `tojson`.
 */
function renderToolCalls(calls: ToolCall[]): string {
  return calls
    .map((c) => {
      const args = parseArgumentsInOrder(c.function.arguments) ?? c.function.arguments;
      return `<tool_call>\n{"name": "${c.function.name}", "arguments": ${pythonJsonDumps(args)}}\n</tool_call>`;
    })
    .join("\n");
}

/**
 * The wire's arguments as an object, read as Python's json.loads reads them: integers past a double's
 * precision as bigints (exact) and integral floats as floats (`2.0`, not 2), so the ground truth and
 * the rendered calls carry what the model wrote, as vLLM's template renders it.
 */
function parseArguments(raw: unknown): Record<string, unknown> | undefined {
  if (isObject(raw)) return raw;
  if (typeof raw !== "string") return undefined;
  if (raw.trim() === "") return {};
  try {
    const parsed: unknown = parseJsonAsPython(raw);
    return isObject(parsed) && !(parsed instanceof PyFloat) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** parseArguments with the keys in the order the model wrote them (json.loads keeps it; a JavaScript object puts "2" and "10" first). */
function parseArgumentsInOrder(raw: unknown): Record<string, unknown> | Map<string, unknown> | undefined {
  if (typeof raw !== "string" || raw.trim() === "") return parseArguments(raw);
  try {
    const parsed: unknown = parseJsonAsPythonInOrder(raw);
    return parsed instanceof Map || (isObject(parsed) && !(parsed instanceof PyFloat)) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function promptMessage(m: ChatMessage, index: number): VerlPromptMessage | string {
  if (!isObject(m) || typeof m.role !== "string") return `messages[${index}]: not a chat message`;
  switch (m.role) {
    case "system":
    case "user":
    case "tool":
      if (typeof m.content !== "string") return `messages[${index}] (${m.role}): content must be a string`;
      return { role: m.role, content: m.content };
    case "assistant": {
      const text = typeof m.content === "string" ? m.content : "";
      const calls = Array.isArray(m.tool_calls) && m.tool_calls.length > 0 ? renderToolCalls(m.tool_calls) : "";
      return { role: "assistant", content: [text, calls].filter((s) => s !== "").join("\n") };
    }
    default:
      return `messages[${index}]: unknown role ${JSON.stringify((m as { role: unknown }).role)}`;
  }
}

function groundTruthOf(label: Extract<ChatMessage, { role: "assistant" }>, labelIndex: number): GroundTruth | string {
  const calls: GroundTruthCall[] = [];
  const toolCalls: unknown = label.tool_calls ?? [];
  if (!Array.isArray(toolCalls)) return `messages[${labelIndex}].tool_calls: must be a list`;
  for (const [i, c] of toolCalls.entries()) {
    const fn: unknown = isObject(c) ? c.function : undefined;
    if (!isObject(fn) || typeof fn.name !== "string" || fn.name === "") return `messages[${labelIndex}].tool_calls[${i}]: no function name`;
    const args = parseArguments(fn.arguments);
    if (!args) return `messages[${labelIndex}].tool_calls[${i}] (${fn.name}): arguments are not a JSON object`;
    calls.push({ name: fn.name, arguments: args });
  }
  return { calls };
}

/**
 * Where the policy sees its tools. verl 0.9.1 applies the chat template to `prompt` without a per-row
 * tools list (RLHFDataset only passes one global list, from data.tool_config_path, and only to its
 * length filter; the single-turn agent loop that renders rollout prompts passes none), so by default
 * the prompt is written so that the template, applied without tools, renders exactly the text it
 * renders with `tools=` when vLLM serves the trained model ("hermesSystem", for the Qwen2.5 template
 * with Hermes tool calls that serve.policy's default `toolCallParser: hermes` assumes): the template's
 * own tools block in the system turn, earlier calls as `<tool_call>` and tool results as
 * `<tool_response>` blocks. "none" leaves the prompt as stored (tool results stay role "tool"), for
 * a custom dataset class that reads extra_info.tools itself.
 */
export const TOOLS_IN_PROMPT = ["hermesSystem", "none"] as const;
export type ToolsInPrompt = (typeof TOOLS_IN_PROMPT)[number];

/** The system text Qwen2.5's template writes in front of its tools block when the conversation has no system turn. */
export const QWEN25_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

/**
 * A tool as vLLM's chat endpoint hands it to the template: ChatCompletionToolsParam(...).model_dump(),
 * i.e. type, then function with name, description and parameters in that order, null where absent.
 */
function servedTool(t: OpenAiTool): unknown {
  return { type: "function", function: { name: t.function.name, description: t.function.description ?? null, parameters: t.function.parameters ?? null } };
}

/**
 * The tools block Qwen2.5's chat template writes into the system turn after the system text and a
 * blank line, for `tools=`: the same words, one tool per line as its `tojson` filter writes it
 * (Python's json.dumps), and the instruction for `<tool_call>` blocks.
 */
export function hermesToolsBlock(tools: OpenAiTool[]): string {
  return [
    "# Tools",
    "",
    "You may call one or more functions to assist with the user query.",
    "",
    "You are provided with function signatures within <tools></tools> XML tags:",
    "<tools>",
    ...tools.map((t) => pythonJsonDumps(servedTool(t))),
    "</tools>",
    "",
    "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
    "<tool_call>",
    '{"name": <function-name>, "arguments": <args-json-object>}',
    "</tool_call>",
  ].join("\n");
}

/**
 * Tool results in a multi-turn prompt, the way Hermes/Qwen templates show them: a run of tool
 * messages becomes one user turn with a `<tool_response>` block per result, in order. Goes with
 * "hermesSystem": the prompt then needs no template support for tools at all (verl applies the chat
 * template to role and content only, without tool_call_id or tools).
 */
export function withToolResultsAsHermes(prompt: VerlPromptMessage[]): VerlPromptMessage[] {
  const out: VerlPromptMessage[] = [];
  let previousWasTool = false;
  for (const m of prompt) {
    if (m.role !== "tool") {
      out.push(m);
      previousWasTool = false;
      continue;
    }
    const block = `<tool_response>\n${m.content}\n</tool_response>`;
    const last = out[out.length - 1];
    if (previousWasTool && last) last.content = `${last.content}\n${block}`;
    else out.push({ role: "user", content: block });
    previousWasTool = true;
  }
  return out;
}

/**
 * The system turn the template renders for `tools=`: the conversation's own system text (even when
 * empty), or Qwen2.5's default when it has none, then a blank line and the tools block. No tools:
 * the template renders the prompt as without them, so it stays as it is.
 */
function withToolsInSystem(prompt: VerlPromptMessage[], tools: OpenAiTool[]): VerlPromptMessage[] {
  if (tools.length === 0) return prompt;
  const block = hermesToolsBlock(tools);
  const [first, ...rest] = prompt;
  if (first?.role === "system") return [{ role: "system", content: `${first.content}\n\n${block}` }, ...rest];
  return [{ role: "system", content: `${QWEN25_DEFAULT_SYSTEM}\n\n${block}` }, ...prompt];
}

export function prepareSample(source: VerlSourceSample, toolsInPrompt: ToolsInPrompt = "hermesSystem"): Prepared {
  const fail = (reason: string): Prepared => ({ ok: false, reason });
  if (!isObject(source) || typeof source.id !== "string" || source.id === "") return fail("id: must be a non-empty string");
  if (!Array.isArray(source.messages) || source.messages.length < 2) return fail("messages: expected a prompt and a label turn");
  // Training data carries no role-play task marker (src/export/trainingMessages.ts).
  const s = { ...source, messages: withoutTaskMarkers(source.messages) };
  if (!Array.isArray(s.tools) || !s.tools.every((t) => isObject(t) && typeof t.name === "string")) return fail("tools: must be a list of named tools");
  const labelIndex = s.messages.length - 1;
  const label = s.messages[labelIndex];
  if (!isObject(label) || label.role !== "assistant") return fail(`messages[${labelIndex}]: the last message must be the assistant's label turn`);
  const prompt: VerlPromptMessage[] = [];
  for (const [i, m] of s.messages.slice(0, labelIndex).entries()) {
    const p = promptMessage(m, i);
    if (typeof p === "string") return fail(p);
    prompt.push(p);
  }
  if (!prompt.some((m) => m.role === "user")) return fail("messages: the prompt has no user turn");
  const truth = groundTruthOf(label, labelIndex);
  if (typeof truth === "string") return fail(truth);
  const openAiTools = s.tools.map(toOpenAiTool);
  const shown = toolsInPrompt === "hermesSystem" ? withToolsInSystem(withToolResultsAsHermes(prompt), openAiTools) : prompt;
  const labelTurn = promptMessage(label, labelIndex);
  if (typeof labelTurn === "string") return fail(labelTurn);
  return {
    ok: true,
    sample: {
      id: s.id,
      prompt: shown,
      groundTruth: stringifyJsonExact(truth),
      openAiTools,
      tools: stringifyJson(openAiTools),
      messages: s.messages,
      sftMessages: [...shown.map((m) => ({ ...m, weight: m.role === "assistant" ? (0 as const) : null })), { ...labelTurn, weight: 1 }],
    },
  };
}

export function toVerlRow(p: PreparedSample, split: VerlSplit, index: number): VerlRow {
  return {
    data_source: VERL_DATA_SOURCE,
    prompt: p.prompt,
    ability: VERL_ABILITY,
    reward_model: { style: "rule", ground_truth: p.groundTruth },
    extra_info: { split, index: BigInt(index), sample_id: p.id, tools: p.tools },
  };
}
