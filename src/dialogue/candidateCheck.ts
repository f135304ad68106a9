/**
 * The rules an assistant turn must keep before it can be voted on (InfTool's schema and style check):
 * every call names an offered tool, its arguments are a JSON object that validates against the tool's
 * input schema (the project's one Ajv setup, string formats included: verification/argumentValidator),
 * call ids are unique, no call repeats another of the turn with the same arguments (as in
 * verify.rules), and the text is an answer to the user: present when there are no calls, not raw
 * JSON or a call written out as text, no trace of the role-play prompts, not endless. A turn the server
 * cut off at the token limit (finish_reason "length") breaks a rule too, whatever is left of it: a
 * sentence cut mid-way is not a label, and vLLM returns it as an ordinary text answer. Pure.
 *
 * The violations are human-readable and name the tool and the argument, because they are shown to the
 * assistant as its critique (reflection.ts) and kept for analysis.
 */
import type { ChatMessage, McpTool } from "../domain/types.js";
import { MAX_ARGUMENT_DEPTH } from "../jsonSchema/keywords.js";
import { parseJsonExact } from "../util/exactJson.js";
import { canonicalJson } from "../util/ids.js";
import { formatJsonPath, pathDeeperThan } from "../util/jsonDepth.js";
import { argumentProblems } from "../verification/argumentValidator.js";

export type AssistantMessage = Extract<ChatMessage, { role: "assistant" }>;

/** A longer text answer is a rambling turn, not a training label. */
export const MAX_TEXT_CHARS = 4000;

/** Keys of the planner's and user simulator's JSON: in the assistant's text they mean the prompt leaked. */
const LEAKED_KEYS = ["scenario", "steps", "intent", "targetTurns", "action", "persona"] as const;

function textProblems(text: string, maxTextChars: number): string[] {
  const problems: string[] = [];
  if (/#{2,4}\s*task\s*:/i.test(text)) problems.push("text: leaks a role-play instruction (a '### task:' line)");
  const leaked = LEAKED_KEYS.filter((k) => new RegExp(`"${k}"\\s*:`).test(text));
  if (leaked.length > 0) problems.push(`text: leaks the dialogue plan (JSON key${leaked.length > 1 ? "s" : ""} ${leaked.map((k) => `"${k}"`).join(", ")})`);
  if (/<\/?tool_call>/.test(text) || /\{\s*"name"\s*:\s*"[^"]*"\s*,\s*"(arguments|parameters)"\s*:/.test(text))
    problems.push("text: writes a tool call out as text; calls belong in tool_calls");
  else if (/```json/i.test(text)) problems.push("text: contains a ```json block instead of an answer in words");
  else if (isJsonValue(text)) problems.push("text: is raw JSON, not an answer to the user");
  if (text.length > maxTextChars) problems.push(`text: ${text.length} characters long; at most ${maxTextChars}`);
  return problems;
}

function isJsonValue(text: string): boolean {
  const t = text.trim();
  if (!(t.startsWith("{") || t.startsWith("["))) return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

export interface CandidateCheckOptions {
  maxTextChars?: number;
  /** The server's finish_reason for the candidate: "length" means it was cut off at max_tokens. */
  finishReason?: string;
}

/** Every rule the candidate breaks (empty: it may be voted on). */
export function checkCandidate(message: AssistantMessage, tools: readonly McpTool[], opts: CandidateCheckOptions = {}): string[] {
  const problems: string[] = [];
  const calls = message.tool_calls ?? [];
  const text = message.content ?? "";
  if (opts.finishReason === "length")
    problems.push('the turn was cut off at the token limit (finish_reason "length"): it is incomplete; give a shorter, complete turn');
  if (calls.length === 0 && text.trim() === "") problems.push("the turn is empty: neither text nor tool calls");
  if (text.trim() !== "") problems.push(...textProblems(text, opts.maxTextChars ?? MAX_TEXT_CHARS));

  const byName = new Map(tools.map((t) => [t.name, t]));
  const firstWithId = new Map<string, number>();
  const firstWithSignature = new Map<string, number>();
  calls.forEach((c, i) => {
    const name = c.function.name;
    const where = `call ${i} (${name})`;
    const earlier = firstWithId.get(c.id);
    if (earlier !== undefined) problems.push(`${where}: duplicate call id "${c.id}" (also call ${earlier})`);
    else firstWithId.set(c.id, i);
    const tool = byName.get(name);
    if (!tool) {
      problems.push(`${where}: "${name}" is not one of the offered tools (${[...byName.keys()].join(", ")})`);
      return;
    }
    let args: unknown;
    try {
      // Integers a double cannot hold stay exact (bigints), as in verify.rules. The candidate's text is kept as it is.
      args = parseJsonExact(c.function.arguments);
    } catch (err) {
      problems.push(`${where}: arguments are not valid JSON (${(err as Error).message})`);
      return;
    }
    if (typeof args !== "object" || args === null || Array.isArray(args)) {
      problems.push(`${where}: arguments must be a JSON object`);
      return;
    }
    const deep = pathDeeperThan(args, MAX_ARGUMENT_DEPTH);
    if (deep) {
      problems.push(`${where}: arguments nest deeper than ${MAX_ARGUMENT_DEPTH} levels at ${formatJsonPath("", deep)}`);
      return;
    }
    // The same call twice in one turn is one call made twice (verify.rules rejects it, and every later cut of the dialogue with it).
    const signature = `${name}\n${canonicalJson(args)}`;
    const same = firstWithSignature.get(signature);
    if (same !== undefined) problems.push(`${where}: repeats call ${same} with the same arguments`);
    else firstWithSignature.set(signature, i);
    for (const p of argumentProblems(tool, args as Record<string, unknown>)) problems.push(`${where}: ${p}`);
  });
  return problems;
}
