/**
 * Scripted user-query writer. Reads the request synthesis sends (protocol in
 * src/synthesis/prompts.ts: a `kind:` line and a ```json block of OpenAI tools) and writes a request
 * whose values the tool agent can read back: each value follows its parameter's words as a JSON
 * literal, e.g. `with city "Paris" and days = 3`.
 */
import { parseJsonExact } from "../../util/exactJson.js";
import type { SeededRandom } from "../../util/random.js";
import { objectForSchema } from "./schemaValues.js";
import { asImperative, contentWords, firstSentence, identifierWords, joinList, literal, readLiteral } from "./text.js";

export type QueryKind = "standard" | "parallel" | "irrelevance";

export interface SimTool {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface QueryTask {
  kind: QueryKind;
  tools: SimTool[];
}

/** Parses the writer prompt; undefined when the `kind:` line is missing. */
export function parseQueryTask(userText: string): QueryTask | undefined {
  const kindMatch = /^\s*kind\s*:\s*(standard|parallel|irrelevance)\b/im.exec(userText);
  if (!kindMatch) return undefined;
  const kind = kindMatch[1]!.toLowerCase() as QueryKind;
  return { kind, tools: parseToolsBlock(userText) };
}

/** The first ```json fenced block, or failing that the first balanced [...] in the text. */
export function parseToolsBlock(text: string): SimTool[] {
  const fenced = /```(?:json)?\s*\n([\s\S]*?)```/i.exec(text);
  let raw: unknown;
  if (fenced) {
    try {
      raw = parseJsonExact(fenced[1]!);
    } catch {
      raw = undefined;
    }
  }
  if (raw === undefined) {
    const at = text.indexOf("[");
    raw = at >= 0 ? readLiteral(text, at)?.value : undefined;
  }
  const list = Array.isArray(raw) ? raw : raw && typeof raw === "object" ? [raw] : [];
  return list.map(toSimTool).filter((t): t is SimTool => t !== undefined);
}

/** Accepts OpenAI tools (`{type, function: {...}}`), bare functions or MCP tools. */
export function toSimTool(x: unknown): SimTool | undefined {
  if (!x || typeof x !== "object") return undefined;
  const o = x as Record<string, unknown>;
  const f = (o.function && typeof o.function === "object" ? o.function : o) as Record<string, unknown>;
  if (typeof f.name !== "string" || f.name.length === 0) return undefined;
  const params = (f.parameters ?? f.inputSchema ?? { type: "object", properties: {} }) as Record<string, unknown>;
  return { name: f.name, description: typeof f.description === "string" ? f.description : "", parameters: params && typeof params === "object" ? params : {} };
}

const OFF_TOPIC = [
  "Write a short haiku about the first snow of winter.",
  "What's a good way to apologise to a friend after missing their birthday party?",
  "Explain the difference between a simile and a metaphor with one example each.",
  "Can you suggest a name for my new golden retriever puppy?",
  "Tell me a fun fact about octopuses.",
  "How do I get red wine stains out of a cotton shirt?",
  "Summarise the plot of Romeo and Juliet in two sentences.",
  "What are some tips for falling asleep faster?",
  "Help me write a toast for my sister's wedding.",
  "Why is the sky blue during the day and orange at sunset?",
  "Give me three ideas for a rainy Sunday afternoon with kids.",
  "What's the etymology of the word 'salary'?",
  "Recommend a board game for four players who like strategy.",
  "How should I prepare for a job interview tomorrow morning?",
  "Compose a limerick about a cat who loves to knit.",
  "What is the capital of Mongolia, and what is it known for?",
  "Describe how a rainbow forms in simple terms.",
  "Can you help me brainstorm a theme for a surprise party?",
  "What are the rules of chess castling?",
  "Tell me a joke about programmers.",
  "How long should I steep green tea?",
  "What's the best way to memorise a speech?",
  "Write a two-line poem about the ocean at night.",
  "Explain what a black hole is to a ten-year-old.",
];

const STRING_CONNECTORS = ["", ":", " of"] as const;
const NUMBER_CONNECTORS = [" =", " of", ":", ""] as const;
const OTHER_CONNECTORS = [" set to", " =", ":"] as const;

function phraseParam(rng: SeededRandom, name: string, value: unknown): string {
  const words = identifierWords(name).join(" ");
  const connectors = typeof value === "string" ? STRING_CONNECTORS : typeof value === "number" ? NUMBER_CONNECTORS : OTHER_CONNECTORS;
  return `${words}${rng.pick(connectors)} ${literal(value)}`;
}

function argsFor(rng: SeededRandom, tool: SimTool, optionalRate: number): Record<string, unknown> {
  return objectForSchema(rng, tool.parameters, tool.parameters, { optionalRate });
}

/** One request sentence asking for one call of `tool` with `args`. */
export function clauseFor(rng: SeededRandom, tool: SimTool, args: Record<string, unknown>): string {
  const described = asImperative(firstSentence(tool.description)) || identifierWords(tool.name).join(" ");
  const params = joinList(Object.entries(args).map(([k, v]) => phraseParam(rng, k, v)));
  if (!params) return rng.pick([`Could you ${described}?`, `Please ${described}.`, `I'd like you to ${described}.`]);
  const template = rng.int(0, 3);
  switch (template) {
    case 0:
      return `Could you ${described} with ${params}?`;
    case 1:
      return `Please ${described}, using ${params}.`;
    case 2:
      return `I need to ${described} for ${params}.`;
    default:
      return `I'd like you to ${described} with ${params}.`;
  }
}

const LINKS = ["Also, ", "Then ", "After that, ", "And ", "On top of that, "] as const;

function lowerFirst(s: string): string {
  if (/^I\b/.test(s)) return s;
  return s.length > 0 ? s[0]!.toLowerCase() + s.slice(1) : s;
}

function offTopicFor(rng: SeededRandom, tools: SimTool[]): string {
  const toolWords = new Set<string>();
  for (const t of tools) for (const w of contentWords(`${identifierWords(t.name).join(" ")} ${t.description}`)) toolWords.add(w);
  const overlap = (q: string) => [...contentWords(q)].filter((w) => toolWords.has(w)).length;
  const best = Math.min(...OFF_TOPIC.map(overlap));
  return rng.pick(OFF_TOPIC.filter((q) => overlap(q) === best));
}

export function writeQuery(rng: SeededRandom, task: QueryTask): string {
  if (task.kind === "irrelevance" || task.tools.length === 0) return offTopicFor(rng, task.tools);
  if (task.kind === "standard") {
    const tool = task.tools[0]!;
    return clauseFor(rng, tool, argsFor(rng, tool, 0.4));
  }
  const seen = new Set<string>();
  const clauses: string[] = [];
  for (const tool of task.tools) {
    // Repeated tools must differ in values, or the two calls would be one.
    let args = argsFor(rng, tool, 0.3);
    for (let i = 0; i < 8 && seen.has(tool.name + literal(args)); i++) args = argsFor(rng, tool, 0.3);
    seen.add(tool.name + literal(args));
    const clause = clauseFor(rng, tool, args);
    clauses.push(clauses.length === 0 ? clause : rng.pick(LINKS) + lowerFirst(clause));
  }
  return clauses.join(" ");
}
