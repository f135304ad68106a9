/**
 * The simulated error expander (contract B). A system message with `### task: error-expansion`; the
 * last user message holds a ```json block `{tools, seed: {query, calls}, variation: {index, persona,
 * style, complexity}}`. The answer is a new user request for calls of the same shape (the same tools
 * in the same order; none for an irrelevance seed) with fresh values, written by the query writer and
 * phrased for the persona. Every candidate is read back with the mistake-free tool agent, so the
 * shape is kept whenever the writer can keep it. Deterministic by the content stream.
 */
import { parseJsonExact } from "../../util/exactJson.js";
import { canonicalJson } from "../../util/ids.js";
import type { SeededRandom } from "../../util/random.js";
import { jsonBlock } from "./judge.js";
import { toSimTool, writeQuery, type QueryTask, type SimTool } from "./queryWriter.js";
import { messageText } from "./toolAgent.js";
import { intentCalls } from "./truth.js";

export const ERROR_EXPANSION_TASK = /^\s*#{2,4}\s*task\s*:\s*error-expansion\s*$/im;

export interface ExpansionCase {
  tools: SimTool[];
  seed: { query: string; calls: { name: string; args: Record<string, unknown> }[] };
  variation: { index: number; persona: string; style: string; complexity: "simpler" | "same" | "richer" };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function parseExpansionCase(messages: readonly unknown[]): ExpansionCase | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as Record<string, unknown> | undefined;
    if (m?.role !== "user") continue;
    const block = jsonBlock(messageText(m.content));
    if (!isObject(block)) continue; // a repair turn appended after the case has no block
    if (!isObject(block.seed)) return undefined;
    const tools = (Array.isArray(block.tools) ? block.tools : []).map(toSimTool).filter((t): t is SimTool => t !== undefined);
    const calls = (Array.isArray(block.seed.calls) ? block.seed.calls : []).filter(isObject).map((c) => {
      const f = isObject(c.function) ? c.function : c;
      let args: unknown = f.arguments ?? {};
      if (typeof args === "string") {
        try {
          args = parseJsonExact(args);
        } catch {
          args = {};
        }
      }
      return { name: typeof f.name === "string" ? f.name : "", args: isObject(args) ? args : {} };
    });
    const v = isObject(block.variation) ? block.variation : {};
    const complexity = v.complexity === "simpler" || v.complexity === "richer" ? v.complexity : "same";
    return {
      tools,
      seed: { query: typeof block.seed.query === "string" ? block.seed.query : "", calls },
      variation: {
        index: typeof v.index === "number" ? v.index : 0,
        persona: typeof v.persona === "string" ? v.persona : "",
        style: typeof v.style === "string" ? v.style : "",
        complexity,
      },
    };
  }
  return undefined;
}

/** Free text safe to put before a request: no quotes, brackets, digits or sentence stops the agent could read as values. */
function plainWords(s: string, max = 80): string {
  return s
    .replace(/["'`[\]{}()0-9=:;.?!]/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, max)
    .trim();
}

const OPENERS = ["As {p}, I need a hand with something", "I'm {p} and I need some help", "Speaking as {p}, here is what I need", "Hi, {p} here"];
/** Openers by interaction style (first match), for a variation without a persona. */
const STYLE_OPENERS: [RegExp, string][] = [
  [/formal|polite|professional/i, "Good day, I would be grateful for your help with the following"],
  [/terse|brief|short|direct|impatient/i, "Quick one"],
  [/casual|chatty|friendly|informal/i, "Hey there, hope you're doing well"],
];
const RICHER_TAILS = ["It's part of a plan I'm putting together this week", "I want to get this sorted before my meeting"];

/** The persona/style wording around a request; each addition is its own sentence. */
function phrase(rng: SeededRandom, query: string, v: ExpansionCase["variation"]): string {
  const persona = plainWords(v.persona);
  const style = plainWords(v.style, 40);
  const opener = persona ? rng.pick(OPENERS).replace("{p}", persona) : (STYLE_OPENERS.find(([re]) => re.test(style))?.[1] ?? "Hello");
  const tail = v.complexity === "richer" ? ` ${rng.pick(RICHER_TAILS)}.` : "";
  return `${opener}. ${query}${tail}`;
}

function sameShape(calls: readonly { name: string }[], names: readonly string[]): boolean {
  return calls.length === names.length && calls.every((c, i) => c.name === names[i]);
}

/** A new request with the seed's call shape and other values, phrased for the variation. */
export function expandSeed(rng: SeededRandom, c: ExpansionCase): string {
  const names = c.seed.calls.map((s) => s.name);
  const targets = names.map((n) => c.tools.find((t) => t.name === n)).filter((t): t is SimTool => t !== undefined);
  const task: QueryTask =
    names.length === 0 || targets.length === 0
      ? { kind: "irrelevance", tools: c.tools }
      : { kind: targets.length === 1 ? "standard" : "parallel", tools: targets };
  const seedValues = canonicalJson(c.seed.calls);
  const reads = (q: string) => intentCalls([{ role: "user", content: q }], c.tools);
  let query = "";
  for (let attempt = 0; attempt < 8; attempt++) {
    query = writeQuery(rng, task);
    const got = reads(query);
    const fresh = task.kind === "irrelevance" ? query !== c.seed.query : canonicalJson(got) !== seedValues;
    if (fresh && sameShape(got, task.kind === "irrelevance" ? [] : names)) break;
  }
  const phrased = phrase(rng, query, c.variation);
  // The wording must not change what the request asks for; if it would, the plain request is sent.
  return canonicalJson(reads(phrased)) === canonicalJson(reads(query)) ? phrased : query;
}
