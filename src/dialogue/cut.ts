/**
 * Training samples cut from a dialogue: one per ACCEPTED assistant turn, whose messages are every
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
 */
import type { DialogueSampleCut, DialogueTurn } from "./types.js";

export function cutSamples(turns: DialogueTurn[]): DialogueSampleCut[] {
  const ordered = [...turns].sort((a, b) => a.seq - b.seq);
  const cuts: DialogueSampleCut[] = [];
  ordered.forEach((t, i) => {
    if (t.kind === "assistant" && t.accepted) cuts.push({ labelSeq: t.seq, messages: ordered.slice(0, i + 1).map((x) => x.message) });
  });
  return cuts;
}
