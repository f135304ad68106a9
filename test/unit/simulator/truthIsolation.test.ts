/**
 * Contract E: no stage or framework module reaches the simulator's truth channel, directly or
 * through other modules (the eslint rule catches the direct import; this follows the import graph).
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const TRUTH = path.join(REPO_ROOT, "src/llm/simulator/truth.ts");

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [],
  );
}

/** Relative value imports of a module (type-only imports vanish at compile time). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+["'](\.[^"']+)["']/gms)) {
    const target = path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, ".ts"));
    if (existsSync(target)) out.push(target);
  }
  return out;
}

test("no module under src/stages or src/framework imports the truth channel, even indirectly", () => {
  const roots = [...tsFiles(path.join(REPO_ROOT, "src/stages")), ...tsFiles(path.join(REPO_ROOT, "src/framework"))];
  assert.ok(roots.length > 10, "the stage modules were found");
  const seen = new Map<string, string | undefined>();
  const queue = roots.map((f) => [f, undefined] as [string, string | undefined]);
  while (queue.length > 0) {
    const [file, from] = queue.shift()!;
    if (seen.has(file)) continue;
    seen.set(file, from);
    for (const next of importsOf(file)) if (!seen.has(next)) queue.push([next, file]);
  }
  const chain: string[] = [];
  for (let at: string | undefined = TRUTH; at !== undefined && seen.has(at); at = seen.get(at)) chain.unshift(path.relative(REPO_ROOT, at));
  assert.equal(seen.has(TRUTH), false, `truth.ts is reached: ${chain.join(" -> ")}`);
  assert.ok(importsOf(path.join(REPO_ROOT, "src/llm/simulator/judge.ts")).includes(TRUTH), "the scan does see a real import of truth.ts");
});
