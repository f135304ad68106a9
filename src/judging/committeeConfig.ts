/**
 * A judge committee's config, pure (zod only: stage specs import it and workflows import the specs):
 * n votes from several judge roles and/or repeated samples of one, decided by a consensus threshold m,
 * validated so that m is reachable and no two verdicts can both reach it: 1 <= m <= n and m > n/2
 * (LoopTool's published default, one judge and a consensus of two, could never decide anything).
 * That makes the verdict unique, not certain: split or unreadable votes can leave none (no consensus).
 */
import { z } from "zod";
import { onceFieldsValid, positiveInt } from "../config/fields.js";

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
  // The vote count only once members and consensus passed their own checks (samples 1e9 is refused as such).
  .superRefine((c, ctx) => {
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
  }, onceFieldsValid)
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
  });
export type CommitteeConfig = z.infer<typeof committeeSchema>;

/** One role asked once: the default committee. */
export const SINGLE_JUDGE: CommitteeConfig = { members: [{ role: "judge", samples: 1 }], consensus: 1 };

export function committeeSize(c: CommitteeConfig): number {
  return c.members.reduce((a, m) => a + m.samples, 0);
}

/** A committee's member roles with their paths under `field`, for the campaign config's role check. */
export function committeeRolePaths(c: CommitteeConfig, field = "committee"): { role: string; path: (string | number)[] }[] {
  return c.members.map((m, j) => ({ role: m.role, path: [field, "members", j, "role"] }));
}

/** The roles a committee calls (each must be configured in `roles`). */
export function committeeRoles(c: CommitteeConfig): string[] {
  return [...new Set(c.members.map((m) => m.role))];
}

/** `<role>#<sample>`: the key a vote is stored under, stable across re-runs. */
export function judgeId(role: string, sample: number): string {
  return `${role}#${sample}`;
}

/**
 * The verifier name of the verdict expand.errors' committee records on an expanded sample; each
 * reason of a failing one is a dissenting judge's analysis, `<judgeId>: <analysis>`.
 */
export const COMMITTEE_VERIFIER = "judge-committee";

/** What starts a committee reason: the judge that gave it (a role name, `#`, its sample). */
export const JUDGE_REASON_PREFIX_PATTERN = "^[a-zA-Z][a-zA-Z0-9_]*#[0-9]+: ";
