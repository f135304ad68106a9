/**
 * Label perplexity on multi-turn samples needs the simulator's ChatML + Hermes rendering to treat a
 * dialogue's history as the chat template does: earlier assistant tool_calls as `<tool_call>` blocks,
 * tool results as `<tool_response>` blocks grouped in one user turn, and the prompt (with the
 * generation prompt) a token prefix of prompt + label, so the span is exactly the label's tokens.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { toOpenAiTool } from "../../../src/domain/types.js";
import { renderChatPrompt, tokenize } from "../../../src/llm/simulator/tokenizer.js";
import { labelSpan } from "../../../src/scoring/labelPerplexity.js";
import { multiTurnRows, travelDialogue } from "../../helpers/multiTurnSamples.js";

test("every cut of a dialogue: the label span is the last assistant turn, after the whole rendered history", () => {
  const rows = multiTurnRows(travelDialogue(0), { campaignId: "c" });
  for (const r of rows) {
    const tools = r.tools.map(toOpenAiTool);
    const prompt = r.messages.slice(0, -1);
    const without = renderChatPrompt(prompt, tools, { addGenerationPrompt: true });
    const withLabel = renderChatPrompt(r.messages, tools, { addGenerationPrompt: false });
    const span = labelSpan(tokenize(without).ids, tokenize(withLabel).ids);
    const labelText = tokenize(withLabel).pieces.slice(span[0], span[1]).join("");
    const label = r.messages[r.messages.length - 1] as { content: string | null; tool_calls?: { function: { name: string } }[] };
    if (label.tool_calls) for (const c of label.tool_calls) assert.ok(labelText.includes(`"name": "${c.function.name}"`), `the span holds ${c.function.name}`);
    else assert.ok(labelText.includes(label.content!), "the span holds the text answer");
    assert.ok(labelText.endsWith("<|im_end|>\n"));
    // The history before the label: each tool result once, inside <tool_response>, each earlier call once.
    const results = prompt.filter((m) => m.role === "tool").length;
    assert.equal(without.match(/<tool_response>/g)?.length ?? 0, results);
    const earlierCalls = prompt.flatMap((m) => (m.role === "assistant" ? (m.tool_calls ?? []) : [])).length;
    assert.equal(without.match(/<tool_call>\n\{"name": "/g)?.length ?? 0, earlierCalls);
  }
  // The three parallel results are one user turn, not three.
  const final = rows[rows.length - 1]!;
  const rendered = renderChatPrompt(final.messages.slice(0, -1), final.tools.map(toOpenAiTool));
  assert.match(
    rendered,
    /<\|im_start\|>user\n<tool_response>\n[^]*?<\/tool_response>\n<tool_response>\n[^]*?<\/tool_response>\n<tool_response>\n[^]*?<\/tool_response><\|im_end\|>/,
  );
});
