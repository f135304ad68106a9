/**
 * A multi-turn sample's prompt holds the dialogue's earlier assistant turns (some rejected by the vote
 * or the judges, each also the label of its own cut). Chat fine-tuning trains on every assistant
 * message of a row unless it carries `weight: 0`, so the exports mark those prompt turns and leave
 * the label (and a whole trajectory after it) trained: dataset.jsonl in both row formats and verl's
 * sft.jsonl.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { ChatMessage } from "../../../src/domain/types.js";
import { exportDataset, type ExportRow } from "../../../src/export/dataset.js";
import { strictLineProblems, toStrictLine } from "../../../src/export/openaiStrict.js";
import { writeVerlDataset } from "../../../src/training/verl/dataset.js";
import { multiTurnRows, travelDialogue } from "../../helpers/multiTurnSamples.js";

type Line = { messages: (ChatMessage & { weight?: number })[] };

const cuts = multiTurnRows(travelDialogue(0), { campaignId: "c" });
const final = cuts[cuts.length - 1]!;
const exportRows: ExportRow[] = cuts.map((r) => ({ id: r.id as string, kind: "multi_turn", status: "verified", messages: r.messages, tools: r.tools }));

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "toolloop-weights-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function* iter<T>(list: T[]): AsyncIterable<T> {
  for (const r of list) yield r;
}

const readLines = async (file: string): Promise<Line[]> =>
  (await readFile(file, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Line);

/** Every assistant turn before the last carries weight 0; the last (the label) carries none. */
function assertOnlyLabelTrained(line: Line, what: string): void {
  const last = line.messages.length - 1;
  assert.equal(line.messages[last]!.role, "assistant", `${what}: the label is last`);
  assert.equal("weight" in line.messages[last]!, false, `${what}: the label is trained`);
  line.messages.forEach((m, i) => {
    if (i < last && m.role === "assistant") assert.equal(m.weight, 0, `${what}: prompt assistant turn ${i} is not trained`);
    if (m.role !== "assistant") assert.equal("weight" in m, false, `${what}: only assistant turns carry a weight`);
  });
}

test("dataset.jsonl (toolloop and openai-strict): earlier assistant turns of a multi-turn row have weight 0, the label none", async () => {
  assert.ok(final.messages.filter((m) => m.role === "assistant").length >= 4, "the fixture's last cut has earlier assistant turns");
  for (const format of ["toolloop", "openai-strict"] as const) {
    const dir = path.join(tmp, format);
    const manifest = await exportDataset({ rows: iter(exportRows), dir, baseName: "dataset", format });
    assert.equal(manifest.rows, cuts.length);
    const lines = await readLines(path.join(dir, "dataset.jsonl"));
    let weighted = 0;
    for (const line of lines) {
      assertOnlyLabelTrained(line, format);
      weighted += line.messages.filter((m) => m.weight === 0).length;
      if (format === "openai-strict") assert.deepEqual(strictLineProblems(line), [], "weight is a documented field of the strict row");
    }
    const expected = cuts.reduce((n, c) => n + c.messages.filter((m) => m.role === "assistant").length - 1, 0);
    assert.equal(weighted, expected, `${format}: every earlier assistant turn of every cut`);
    // The first cut's label is its only assistant turn: nothing to mark.
    assert.equal(lines[0]!.messages.filter((m) => m.role === "assistant").length, 1);
  }
});

test("a whole-trajectory row: turns after the label stay trained; the strict schema refuses other weights", () => {
  const single: ChatMessage[] = final.messages.slice(0, 3);
  assert.equal(single[2]!.role, "assistant");
  const appended: ChatMessage[] = [...single, { role: "tool", tool_call_id: "d0_c1", content: "{}" }, { role: "assistant", content: "Done." }];
  const line = toStrictLine(appended, final.tools, 2) as Line;
  assert.equal(
    line.messages.some((m) => "weight" in m),
    false,
    "the label (index 2) and the trajectory after it are all trained",
  );
  const bad = { ...line, messages: [...line.messages.slice(0, 2), { ...line.messages[2]!, weight: 0.5 }] };
  assert.notDeepEqual(strictLineProblems(bad), []);
});

test("verl sft.jsonl marks the prompt's assistant turns too; sft.jsonl keeps the label trained", async () => {
  const dir = path.join(tmp, "verl");
  await writeVerlDataset({
    samples: cuts.map((c) => ({ id: c.id as string, messages: c.messages, tools: c.tools })),
    dir,
    valFraction: 0,
    seed: 1,
    sft: true,
    provenance: { campaignId: "c", iteration: 1 },
  });
  const lines = await readLines(path.join(dir, "sft.jsonl"));
  assert.equal(lines.length, cuts.length);
  for (const line of lines) assertOnlyLabelTrained(line, "sft.jsonl");
  assert.ok(lines.some((l) => l.messages.some((m) => m.weight === 0)));
});
