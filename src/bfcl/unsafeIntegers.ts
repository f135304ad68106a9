/**
 * Integers a double cannot hold in BFCL's JSON files. The fast probe reads BFCL's question files with
 * JSON.parse, which rounds such an integer (12345678901234567891 becomes 12345678901234567000) and
 * would compare or send another value than BFCL's checker (Python's json.loads, exact) uses. None of
 * BFCL v3's files holds one (checked: `node dist/src/bfcl/unsafeIntegers.js <dir>`), so reading them
 * exactly would cost every line for nothing; the loaders call rejectUnsafeIntegers instead, which fails
 * loudly naming the file and line if one ever appears (cheap: only lines with a 16-digit run are read again).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { isInteger, parse } from "lossless-json";
import { fileURLToPath } from "node:url";

/** A run of 16 digits: the shortest integer a double may not hold (2^53 has 16 digits). */
const MAYBE_UNSAFE = /\d{16}/;

/** Whether the nearest double is another integer (9007199254740993 reads as ...992; 9876543210123456, even, is held exactly). */
const doubleChanges = (digits: string): boolean => BigInt(Number(digits)) !== BigInt(digits);

/** The integer literals of a JSON text that a double cannot hold, as written (none when the text has no 16-digit run). */
export function unsafeIntegersIn(jsonText: string): string[] {
  if (!MAYBE_UNSAFE.test(jsonText)) return [];
  const found: string[] = [];
  parse(jsonText, null, (digits: string) => {
    if (isInteger(digits) && doubleChanges(digits)) found.push(digits);
    return 0;
  });
  return found;
}

/** Throws `makeError` naming the file, the line and the integer when a JSON line holds an integer a double cannot hold. */
export function rejectUnsafeIntegers(line: string, file: string, lineNumber: number, makeError: (message: string) => Error): void {
  if (!MAYBE_UNSAFE.test(line)) return;
  let found: string[];
  try {
    found = unsafeIntegersIn(line);
  } catch {
    return; // Not JSON: the caller's parse says so.
  }
  if (found.length > 0)
    throw makeError(
      `${file} line ${lineNumber}: the integer ${found[0]} cannot be held by a double, and this file is read with JSON.parse, which would round it ` +
        "(BFCL's checker reads it exactly); read this file exactly (parseJsonExact) before using it",
    );
}

/** Every file under `dir` (JSON lines, or one JSON document) with the integers a double cannot hold, by file and line. */
export function scanForUnsafeIntegers(dir: string): { files: number; lines: number; found: { file: string; line: number; integer: string }[] } {
  const out = { files: 0, lines: 0, found: [] as { file: string; line: number; integer: string }[] };
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".json") || name.endsWith(".jsonl")) {
        out.files++;
        const text = readFileSync(p, "utf8");
        const lines = text.split("\n");
        let asLines = true;
        lines.forEach((l, i) => {
          if (!asLines || l.trim() === "") return;
          out.lines++;
          try {
            for (const integer of unsafeIntegersIn(l)) out.found.push({ file: p, line: i + 1, integer });
          } catch {
            asLines = false;
          }
        });
        // Not JSON lines: one document.
        if (!asLines) for (const integer of unsafeIntegersIn(text)) out.found.push({ file: p, line: 0, integer });
      }
    }
  };
  walk(dir);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error("usage: node dist/src/bfcl/unsafeIntegers.js <BFCL data dir>");
    process.exit(2);
  }
  const r = scanForUnsafeIntegers(dir);
  for (const f of r.found) console.log(`${f.file}${f.line ? ` line ${f.line}` : ""}: ${f.integer}`);
  console.log(`${r.files} files, ${r.lines} lines: ${r.found.length} integer(s) a double cannot hold`);
  process.exit(r.found.length > 0 ? 1 : 0);
}
