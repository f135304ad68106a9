import pLimit from "p-limit";
import { loadBfclCategory, type BfclEntry, isRelevanceCategory } from "./data.js";
import { toOpenAiTools, type OpenAiTool } from "./toolSchema.js";
import { decodeOpenAiToolCalls } from "../matching/decoders.js";
import { matchBfclCalls, type MatchMode } from "../matching/matcher.js";
import { MatchCall } from "../matching/matchCall.js";

/** The slice of src/llm/client.ts's LlmClient the probe uses (structural, so any compatible client works). */
export interface ProbeChatClient {
  chat(
    req: { messages: unknown[]; tools?: OpenAiTool[]; toolChoice?: unknown },
    opts: { signal?: AbortSignal },
  ): Promise<{ message: { content?: string | null; tool_calls?: { function: { name: string; arguments: string } }[] | null } }>;
}

export interface FastProbeResult {
  evaluator: "toolloop-matcher";
  mode: MatchMode;
  categories: Record<string, { accuracy: number; correct: number; total: number }>;
}

/** Messages of a single-turn entry: BFCL stores `question` as a list of turns, each a list of messages. */
function messagesOf(entry: BfclEntry): unknown[] {
  const q = entry.question;
  if (Array.isArray(q) && q.every(Array.isArray)) return (q as unknown[][]).flat();
  if (Array.isArray(q)) return q;
  throw new Error(`BFCL entry ${entry.id}: "question" is not a list of messages`);
}

/**
 * Quick in-process BFCL-style score (FC mode): prompts the model with each entry's question and
 * its functions as OpenAI tools, decodes `tool_calls` and checks them with our matcher. Numbers
 * are labelled evaluator "toolloop-matcher" so they are never confused with the official score.
 */
export async function runFastProbe(p: {
  client: ProbeChatClient;
  categories: string[];
  dataDir?: string;
  limitPerCategory?: number;
  concurrency?: number;
  mode?: MatchMode;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}): Promise<FastProbeResult> {
  const mode = p.mode ?? "bfcl";
  const work: BfclEntry[] = [];
  for (const category of p.categories) {
    const entries = await loadBfclCategory(category, p.dataDir);
    work.push(...(p.limitPerCategory !== undefined ? entries.slice(0, Math.max(0, p.limitPerCategory)) : entries));
  }
  const limit = pLimit(Math.max(1, p.concurrency ?? 8));
  const tally = new Map<string, { correct: number; total: number }>(p.categories.map((c) => [c, { correct: 0, total: 0 }]));
  let done = 0;
  await Promise.all(
    work.map((entry) =>
      limit(async () => {
        p.signal?.throwIfAborted();
        const valid = await probeEntry(p.client, entry, mode, p.signal);
        const t = tally.get(entry.category)!;
        t.total++;
        if (valid) t.correct++;
        done++;
        p.onProgress?.(done, work.length);
      }),
    ),
  );
  const categories: FastProbeResult["categories"] = {};
  for (const [c, t] of tally) categories[c] = { accuracy: t.total === 0 ? 0 : t.correct / t.total, correct: t.correct, total: t.total };
  return { evaluator: "toolloop-matcher", mode, categories };
}

async function probeEntry(client: ProbeChatClient, entry: BfclEntry, mode: MatchMode, signal: AbortSignal | undefined): Promise<boolean> {
  const tools = toOpenAiTools(entry.function, entry.category);
  const res = await client.chat({ messages: messagesOf(entry), ...(tools.length > 0 ? { tools } : {}) }, { signal });
  const decoded = decodeOpenAiToolCalls(res.message.tool_calls);
  const calls: MatchCall[] = decoded.ok ? decoded.calls.map((c) => MatchCall.fromArgs(c.name, c.args)) : [];
  if (isRelevanceCategory(entry.category)) {
    return matchBfclCalls(calls, entry.function, [], entry.category, mode).valid;
  }
  if (!decoded.ok || !entry.answer) return false;
  // Tool names were sanitised ("." -> "_"), so the checker compares against sanitised names (underscore_to_dot).
  return matchBfclCalls(calls, entry.function, entry.answer, entry.category, mode, true).valid;
}
