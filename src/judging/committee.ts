/**
 * A judge committee: n votes from several judge roles (different models) and/or repeated samples of
 * one (each sample a request with its own `seed`), decided by a consensus threshold m. The config is
 * validated so that m is reachable and no two verdicts can both reach it: 1 <= m <= n and m > n/2
 * (LoopTool's published default, one judge and a consensus of two, could never decide anything).
 * That makes the verdict unique, not certain: split or unreadable votes can leave none (no consensus).
 */
import pLimit from "p-limit";
import type { z } from "zod";
import type { ChatMessage } from "../domain/types.js";
import type { LlmClient } from "../llm/client.js";
import { LlmError } from "../llm/errors.js";
import { judgeId, type CommitteeConfig } from "./committeeConfig.js";

export { committeeRolePaths, committeeRoles, committeeSchema, committeeSize, judgeId, SINGLE_JUDGE, type CommitteeConfig } from "./committeeConfig.js";

export interface Vote<V extends string> {
  /** `<role>#<sample>`: stable across re-runs, the key votes are stored under. */
  judge: string;
  model: string;
  /** null: the judge's reply could not be read as a verdict. */
  verdict: V | null;
  analysis: string;
}

/** The verdict with at least `consensus` votes, or null. */
export function tally<V extends string>(votes: readonly Vote<V>[], consensus: number): { verdict: V | null; counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  for (const v of votes) if (v.verdict !== null) counts[v.verdict] = (counts[v.verdict] ?? 0) + 1;
  let verdict: V | null = null;
  for (const [k, n] of Object.entries(counts)) if (n >= consensus) verdict = k as V;
  return { verdict, counts };
}

/**
 * Asks every member, each sample with its own seed (so repeated samples of one model are real
 * samples, not one cached answer). A judge whose answer cannot be parsed casts a null vote; transport
 * failures propagate (the batch is retried).
 */
export async function convene<V extends string>(
  committee: CommitteeConfig,
  clientFor: (role: string) => LlmClient,
  ask: { messages: ChatMessage[]; responseFormat: { name: string; schema: Record<string, unknown> }; schema: z.ZodType<{ verdict: V; analysis: string }> },
  signal: AbortSignal,
  skip: ReadonlySet<string> = new Set(),
): Promise<Vote<V>[]> {
  const jobs: { role: string; sample: number }[] = [];
  for (const m of committee.members) for (let s = 0; s < m.samples; s++) if (!skip.has(judgeId(m.role, s))) jobs.push({ role: m.role, sample: s });
  const limit = pLimit(8);
  return Promise.all(
    jobs.map(({ role, sample }) =>
      limit(async (): Promise<Vote<V>> => {
        const client = clientFor(role);
        try {
          const r = await client.structured({ messages: ask.messages, responseFormat: ask.responseFormat, seed: sample }, ask.schema, {
            signal,
            maxRepairs: 1,
          });
          return { judge: judgeId(role, sample), model: client.model, verdict: r.verdict, analysis: r.analysis.slice(0, 4000) };
        } catch (err) {
          if (err instanceof LlmError && err.kind === "bad_response")
            return { judge: judgeId(role, sample), model: client.model, verdict: null, analysis: err.message.slice(0, 4000) };
          throw err;
        }
      }),
    ),
  );
}

/** Per judge: how often its vote was the committee's verdict, over the cases the committee decided. */
export function judgeReliability(
  cases: { votes: readonly { judge: string; verdict: string | null }[]; verdict: string | null }[],
): Record<string, { decided: number; agreed: number; rate: number }> {
  const out: Record<string, { decided: number; agreed: number; rate: number }> = {};
  for (const c of cases) {
    if (c.verdict === null) continue;
    for (const v of c.votes) {
      const r = (out[v.judge] ??= { decided: 0, agreed: 0, rate: 0 });
      r.decided++;
      if (v.verdict === c.verdict) r.agreed++;
    }
  }
  for (const r of Object.values(out)) r.rate = r.decided === 0 ? 0 : r.agreed / r.decided;
  return out;
}
