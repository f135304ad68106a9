/**
 * `toolloop sample lineage ID`: where a sample came from and everything said about it on the way
 * (rules, pools, scores, the probe, every judge's vote, the committee's decision). Reads PostgreSQL
 * only: no worker or Temporal needed.
 */
import type { Command } from "commander";
import { openCliDatabase } from "./database.js";
import { childrenOf, sampleLineage, type LineageStep } from "../db/repos/lineage.js";
import type { ChatMessage } from "../domain/types.js";
import { shownReasons, type StoredReason } from "../matching/shownReasons.js";
import { cliEnv } from "./env.js";
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from "./errors.js";

export function registerSampleCommands(program: Command): void {
  const sample = program.command("sample").description("one sample's story");
  sample
    .command("lineage")
    .argument("<sampleId>")
    .option("--json", "print the chain as JSON")
    .description("the chain from a sample back to its seed, with every verdict, score and vote (needs DATABASE_URL)")
    .action(async (sampleId: string, opts: { json?: boolean }) => {
      const url = cliEnv().databaseUrl;
      if (!url) throw new CliError("sample lineage reads PostgreSQL: set DATABASE_URL", EXIT_ENVIRONMENT);
      const db = await openCliDatabase(url);
      try {
        const chain = await sampleLineage(db.db, sampleId);
        if (chain.length === 0) throw new CliError(`no sample with id ${JSON.stringify(sampleId)}`, EXIT_BAD_INPUT);
        const children = await childrenOf(db.db, sampleId);
        if (opts.json) {
          console.log(JSON.stringify({ chain, children }, null, 2));
          return;
        }
        for (const line of formatLineage(chain, children)) console.log(line);
      } finally {
        await db.close();
      }
    });
}

function answerText(messages: ChatMessage[]): string {
  const last = [...messages].reverse().find((m) => m.role === "assistant");
  if (!last || last.role !== "assistant") return "(no answer)";
  const calls = (last.tool_calls ?? []).map((c) => `${c.function.name}(${c.function.arguments})`);
  return calls.length ? calls.join(", ") : JSON.stringify(last.content ?? "");
}

/**
 * The request the label answers: the last user message. A multi-turn sample's first user message is
 * an earlier request of the dialogue, so showing it beside the label paired the label with the wrong
 * question; its line says which user turn of how many it is (metadata.dialogue).
 */
export function userLine(messages: ChatMessage[], metadata: unknown): string {
  const u = [...messages].reverse().find((m) => m.role === "user");
  const t = u && typeof u.content === "string" ? u.content.replace(/\s+/g, " ") : "";
  const text = t.length > 100 ? `${t.slice(0, 97)}...` : t;
  const d = (metadata as { dialogue?: { userTurn?: unknown; turns?: unknown } } | null)?.dialogue;
  const place = typeof d?.userTurn === "number" ? ` (turn ${d.userTurn}${typeof d.turns === "number" ? ` of ${d.turns}` : ""})` : "";
  return `user${place}: ${text}`;
}

const num = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));

/** The chain, newest first: one block per sample, indented detail lines. */
export function formatLineage(
  chain: LineageStep[],
  children: { id: string; campaignId?: string; origin: string; stage: string | null; iteration: number; status: string }[],
): string[] {
  const out: string[] = [];
  chain.forEach((step, i) => {
    const s = step.sample;
    const role = i === 0 ? "sample" : i === chain.length - 1 ? "seed  " : "parent";
    out.push(
      `${i === 0 ? "" : "  ^ made from\n"}${role} ${s.id}  ${s.origin} by ${s.stage ?? "(unknown stage)"} in iteration ${s.iteration}, ${s.kind}, status ${s.status}`,
    );
    out.push(`    ${userLine(s.messages, s.metadata)}`);
    out.push(`    label: ${answerText(s.messages)}`);
    if (i === 0 || chain[i - 1]!.sample.campaignId !== s.campaignId) out.push(`    campaign: ${s.campaignId}`);
    const provenance = provenanceLine(s.metadata);
    if (provenance) out.push(`    provenance: ${provenance}`);
    for (const v of s.verdicts) out.push(`    verdict ${v.verifier}: ${v.ok ? "ok" : `rejected (${v.reasons.slice(0, 3).join("; ")})`}`);
    // expand.errors keeps its committee's votes on the new label in the sample's metadata.
    for (const v of committeeVotes(s.metadata))
      out.push(
        `    committee vote ${v.judge} (${v.model}): ${v.verdict ?? "unreadable"}${v.analysis ? ` — ${v.analysis.replace(/\s+/g, " ").slice(0, 140)}` : ""}`,
      );
    // A scheduled run's pool can hold samples of the campaign it continues: name the other campaign.
    const where = (campaignId: string) => (campaignId === s.campaignId ? "" : ` of campaign ${campaignId}`);
    for (const p of step.pools)
      out.push(`    pool of iteration ${p.iteration}${where(p.campaignId)}: ${p.reason}${p.weight !== 1 ? `, weight ${p.weight}` : ""}`);
    for (const x of step.exclusions) out.push(`    left out of iteration ${x.iteration}${where(x.campaignId)}'s pool: ${x.reason}`);
    for (const sc of step.scores)
      out.push(
        `    score ${sc.metric} (iteration ${sc.iteration}${where(sc.campaignId)}, ${sc.model}): ${num(sc.value)}${sc.metric === "consistency" ? ` ${(sc.details as { class?: string } | null)?.class ?? ""}` : ""}`,
      );
    for (const p of step.probes) {
      const pred = p.prediction as { content?: string | null; tool_calls?: { function: { name: string; arguments: string } }[] };
      const calls = (pred.tool_calls ?? []).map((c) => `${c.function.name}(${c.function.arguments})`).join(", ");
      const reasons = shownReasons(p.reasons as StoredReason[]);
      out.push(
        `    probe (iteration ${p.iteration}${where(p.campaignId)}, ${p.model}): ${p.match ? "match" : `MISMATCH — predicted ${calls || JSON.stringify(pred.content ?? "")}${reasons.length ? ` (${reasons.join("; ")})` : ""}`}`,
      );
    }
    for (const v of step.votes)
      out.push(
        `    judge ${v.judge} (${v.model}, iteration ${v.iteration}${where(v.campaignId)}): ${v.verdict ?? "unreadable"} — ${v.analysis.replace(/\s+/g, " ").slice(0, 140)}`,
      );
    for (const j of step.judgements)
      out.push(
        `    committee (iteration ${j.iteration}${where(j.campaignId)}): ${j.verdict ?? "no consensus"} of ${j.votes} votes -> ${j.action}${j.resultSampleId ? ` -> ${j.resultSampleId}` : ""}`,
      );
  });
  const first = chain[0]?.sample.campaignId;
  for (const c of children)
    out.push(
      `  made from it: ${c.id} (${c.origin} by ${c.stage ?? "?"} in iteration ${c.iteration}${c.campaignId !== undefined && c.campaignId !== first ? ` of campaign ${c.campaignId}` : ""}, ${c.status})`,
    );
  return out;
}

/** metadata.provenance in one line: config, code and whether the LLM simulator answered (src/provenance/). */
function provenanceLine(metadata: unknown): string | undefined {
  const p = (metadata as { provenance?: unknown } | null)?.provenance as
    | {
        config?: { version?: number; sha256?: string };
        code?: { version?: string; commit?: string | null };
        simulated?: boolean;
        roles?: Record<string, { model?: string }>;
      }
    | undefined;
  if (!p || typeof p !== "object") return undefined;
  const parts: string[] = [];
  if (p.config) parts.push(`config v${p.config.version ?? "?"} sha256 ${(p.config.sha256 ?? "?").slice(0, 12)}`);
  if (p.code) parts.push(`code ${p.code.version ?? "?"}${p.code.commit ? ` @${p.code.commit.slice(0, 12)}` : ""}`);
  const roles = Object.entries(p.roles ?? {}).map(([role, r]) => `${role} ${r?.model ?? "?"}`);
  if (roles.length) parts.push(`roles ${roles.join(", ")}`);
  if (p.simulated === true) parts.push("SIMULATED (the LLM simulator answered)");
  return parts.length ? parts.join("; ") : undefined;
}

function committeeVotes(metadata: unknown): { judge: string; model: string; verdict: string | null; analysis: string }[] {
  const votes = ((metadata as { committee?: { votes?: unknown } } | null)?.committee?.votes ?? []) as unknown;
  if (!Array.isArray(votes)) return [];
  return votes
    .filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null)
    .map((v) => ({
      judge: typeof v.judge === "string" ? v.judge : "?",
      model: typeof v.model === "string" ? v.model : "?",
      verdict: typeof v.verdict === "string" ? v.verdict : null,
      analysis: typeof v.analysis === "string" ? v.analysis : "",
    }));
}
