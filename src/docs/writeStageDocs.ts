#!/usr/bin/env node
/**
 * Rewrites the generated reference block of every stage doc (docs/stages/<stage>.md) from the
 * stage specs; the hand-written prose around it is kept. A stage without a doc gets a new file
 * with the block and the headings to fill in. Run after changing a stage's spec or schema:
 *   node dist/src/docs/writeStageDocs.js [docs/stages]
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { STAGE_SPECS } from "../stages/specs.js";
import { withReference } from "./stageReference.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const dir = path.resolve(process.argv[2] ?? path.join(repoRoot, "docs", "stages"));
fs.mkdirSync(dir, { recursive: true });
for (const spec of STAGE_SPECS) {
  const file = path.join(dir, `${spec.name}.md`);
  const before = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : `# ${spec.name}: ${spec.title}\n\n## What it does\n\n## Outputs\n\n## Failure modes\n`;
  const after = withReference(before, spec);
  if (after !== before) {
    fs.writeFileSync(file, after);
    console.log(`updated ${path.relative(process.cwd(), file)}`);
  }
}
