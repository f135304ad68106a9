/**
 * A synthesize.multiTurn run that keeps no dialogue writes no sample, and everything after it
 * (verification, export, training) runs on nothing. Like single-turn synthesis whose every slot
 * failed, the stage does not fail for it (the dialogues were settled as the config asked), but it
 * says so, with why the dialogues ended: the stage summary (`warning`), `campaign status` (text and
 * `--json`, read from that summary) and the report all carry this one text.
 */

export interface DialogueEnds {
  kept: number;
  dropped: number;
  failed: number;
  /** Dropped dialogues by drop reason (too_many_rejected_turns, no_accepted_turns, bad_plan, ...). */
  dropReasons: Readonly<Record<string, number>>;
}

/** The warning for dialogues that ended with none kept; undefined when one was kept or none ended. */
export function noDialogueKeptWarning(e: DialogueEnds): string | undefined {
  if (e.kept > 0 || e.dropped + e.failed === 0) return undefined;
  const reasons = Object.entries(e.dropReasons)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([reason, n]) => `${reason || "(no reason recorded)"} ${n}`)
    .join(", ");
  const dropped = e.dropped > 0 ? `${e.dropped} dropped${reasons ? ` (${reasons})` : ""}` : "";
  const failed = e.failed > 0 ? `${e.failed} failed (an LLM request refused for good)` : "";
  return `no dialogue kept, so no multi-turn sample was written: ${[dropped, failed].filter(Boolean).join(", ")} of ${e.dropped + e.failed}`;
}
