/**
 * Training samples cut from a dialogue: one per ACCEPTED assistant turn (whose calls ran), whose messages are every
 * stored message up to and including that turn, as a real message list (system, user,
 * assistant(tool_calls), tool, ...): the label is always the last message, the prompt everything
 * before it. LoopTool flattens the history into one user message; we keep the roles, so the model
 * learns from the chat template it is served with.
 *
 * Rejected assistant turns are never labels, but they stay in the prompt of later cuts: they are what
 * the dialogue actually said, and the user's and tool's later turns answer them.
 *
 * Tool error results stay too. LoopTool skips turns whose tool result contains "error"; here an error
 * is either one the engine asked the tool server for (a realistic rate limit, timeout, ...) or the
 * server's verdict on a bad call, and how the assistant handles it (retrying, telling the user, asking
 * for a correct value) is exactly the behaviour multi-turn data should teach. The assistant turn that
 * made a bad call was itself voted on and checked against the tool's schema before it was accepted.
 *
 * An accepted turn whose calls never all got a result in the dialogue is no label either: the
 * dialogue ended before they ran (the assistant still called tools in round maxToolRounds, where it
 * had to answer, or the dialogue outgrew a role model's context while they ran), so nothing after it
 * shows the calls were worth making. Every calling label's calls ran and are answered in the stored
 * dialogue (that label's own sample stops at the calls, as every calling label's does).
 */
import type { DialogueSampleCut, DialogueTurn } from "./types.js";

export function cutSamples(turns: DialogueTurn[]): DialogueSampleCut[] {
  const ordered = [...turns].sort((a, b) => a.seq - b.seq);
  const answered = new Set(ordered.flatMap((t) => (t.kind === "tool" ? [t.message.tool_call_id] : [])));
  const cuts: DialogueSampleCut[] = [];
  ordered.forEach((t, i) => {
    if (t.kind !== "assistant" || !t.accepted) return;
    if ((t.message.tool_calls ?? []).some((c) => !answered.has(c.id))) return;
    cuts.push({ labelSeq: t.seq, messages: ordered.slice(0, i + 1).map((x) => x.message) });
  });
  return cuts;
}
