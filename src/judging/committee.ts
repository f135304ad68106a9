/**
 * A judge committee: n votes from several judge roles (different models) and/or repeated samples of
 * one (each sample a request with its own `seed`), decided by a consensus threshold m. The config is
 * validated so a verdict can always be reached and never two at once: 1 <= m <= n and m > n/2
 * (LoopTool's published default, one judge and a consensus of two, could never decide anything).
 */
import pLimit from "p-limit";
import { z } from "zod";
import type { ChatMessage } from "../domain/types.js";
import { LlmError, type LlmClient } from "../llm/client.js";
import { positiveInt } from "../config/fields.js";

const ROLE = /^[a-zA-Z][a-zA-Z0-9_]{0,62}$/;

export const committeeSchema = z
  .strictObject({
    /** Each member is a role of the campaign (its endpoint and model) asked `samples` times. */
    members: z
      .array(
        z.strictObject({
          role: z.string({ error: "expected a role name" }).regex(ROLE, "expected a role name (a letter, then letters, digits or '_')"),
          samples: positiveInt.max(16, "expected at most 16").default(1),
        }),
        { error: "expected a list of judges" },
      )
      .min(1, "expected at least one judge")
      .max(16, "expected at most 16 judges"),
    /** Votes one verdict needs to be the committee's; more than half of all votes, at most all of them. */
    consensus: positiveInt.max(256, "expected at most 256"),
  })
  .superRefine((c, ctx) => {
    // Votes are stored under `<role>#<sample>`: a role listed twice would cast two votes under one key.
    const firstIndex = new Map<string, number>();
    c.members.forEach((m, j) => {
      const earlier = firstIndex.get(m.role);
      if (earlier === undefined) firstIndex.set(m.role, j);
      else
        ctx.addIssue({
          code: "custom",
          path: ["members", j, "role"],
          message: `judge role "${m.role}" is already members[${earlier}]; list each role once and raise its samples instead`,
        });
    });
    const n = c.members.reduce((a, m) => a + m.samples, 0);
    if (c.consensus > n)
      ctx.addIssue({
        code: "custom",
        path: ["consensus"],
        message: `consensus ${c.consensus} can never be reached: the committee casts ${n} vote(s) in all (members' samples summed); use at most ${n}`,
      });
    else if (c.consensus * 2 <= n)
      ctx.addIssue({
        code: "custom",
        path: ["consensus"],
        message: `consensus ${c.consensus} of ${n} votes lets two verdicts both reach it; use more than half (at least ${Math.floor(n / 2) + 1})`,
      });
  });
export type CommitteeConfig = z.infer<typeof committeeSchema>;

/** One role asked once: the default committee. */
export const SINGLE_JUDGE: CommitteeConfig = { members: [{ role: "judge", samples: 1 }], consensus: 1 };

export function committeeSize(c: CommitteeConfig): number {
  return c.members.reduce((a, m) => a + m.samples, 0);
}

/** The roles a committee calls (each must be configured in `roles`). */
export function committeeRoles(c: CommitteeConfig): string[] {
  return [...new Set(c.members.map((m) => m.role))];
}

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

export function judgeId(role: string, sample: number): string {
  return `${role}#${sample}`;
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
