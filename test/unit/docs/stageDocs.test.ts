/** Every stage has docs/stages/<name>.md whose generated reference block matches its spec, plus the hand-written sections. */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { GENERATED_BEGIN, GENERATED_END, renderStageReference } from "../../../src/docs/stageReference.js";
import { STAGE_SPECS } from "../../../src/stages/specs.js";

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../docs/stages");

for (const spec of STAGE_SPECS) {
  test(`docs/stages/${spec.name}.md documents the stage as its spec defines it`, () => {
    const file = path.join(DOCS, `${spec.name}.md`);
    assert.ok(fs.existsSync(file), `${file} exists (node dist/src/docs/writeStageDocs.js creates it)`);
    const doc = fs.readFileSync(file, "utf8");
    const begin = doc.indexOf(GENERATED_BEGIN);
    const end = doc.indexOf(GENERATED_END);
    assert.ok(begin >= 0 && end > begin, "has the generated block");
    assert.equal(
      doc.slice(begin, end + GENERATED_END.length),
      renderStageReference(spec),
      "generated block is current: run node dist/src/docs/writeStageDocs.js",
    );
    for (const heading of ["## What it does", "## Outputs", "## Failure modes"]) {
      const at = doc.indexOf(`\n${heading}\n`);
      assert.ok(at >= 0, `has "${heading}"`);
      const body =
        doc
          .slice(at + heading.length + 2)
          .split(/\n## /)[0]
          ?.trim() ?? "";
      assert.ok(body.length >= 80, `"${heading}" is written (${body.length} characters)`);
    }
  });
}

test("the stage index links every stage doc", () => {
  const index = fs.readFileSync(path.join(DOCS, "README.md"), "utf8");
  for (const spec of STAGE_SPECS) assert.ok(index.includes(`](${spec.name}.md)`), `docs/stages/README.md links ${spec.name}.md`);
});

test("the generated block renders nested defaults and required fields", () => {
  const grpo = STAGE_SPECS.find((s) => s.name === "train.grpo");
  assert.ok(grpo);
  const block = renderStageReference(grpo);
  assert.match(block, /^\| `baseModel` \| string \| \*\*required\*\* \|$/m);
  assert.match(block, /^\| `grpo\.rolloutN` \| integer \| `8` \|$/m);
  assert.match(block, /^\| `watch\.pollSeconds` \| integer \| `10` \|$/m);
  assert.match(block, /^- \*\*Task queue\*\*: `<prefix>-cluster`/m);
});
