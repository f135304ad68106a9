/**
 * The fast probe reads BFCL's question files with JSON.parse, which rounds an integer a double cannot
 * hold. None of BFCL v3's files holds one (the scan below); a question line that ever does fails to
 * load, naming its file and line, instead of being probed with another value than BFCL's checker reads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BFCL_SINGLE_TURN_CATEGORIES, BfclDataError, loadBfclCategory, readBfclCategorySync, resolveBfclDataDir } from "../../src/bfcl/data.js";
import { scanForUnsafeIntegers, unsafeIntegersIn } from "../../src/bfcl/unsafeIntegers.js";

const doc = (values: string) =>
  `{"name": "lookup_order", "description": "Looks up an order.", "parameters": {"type": "dict", "properties": {"order_id": {"type": "integer", "enum": [${values}]}}, "required": ["order_id"]}}`;
const line = (id: string, values: string) =>
  `{"id": "${id}", "question": [[{"role": "user", "content": "Order 12345678901234567891, please."}]], "function": [${doc(values)}]}`;
const answer = (id: string) => `{"id": "${id}", "ground_truth": [{"lookup_order": {"order_id": [1]}}]}`;

test("no file of the BFCL data holds an integer a double cannot hold, and every fast category loads under the guard", async () => {
  const dir = resolveBfclDataDir();
  const scan = scanForUnsafeIntegers(dir);
  assert.ok(scan.files > 10 && scan.lines > 1000, `the data was scanned: ${JSON.stringify({ files: scan.files, lines: scan.lines })}`);
  assert.deepEqual(scan.found, [], "an integer JSON.parse would round: read the BFCL files exactly (parseJsonExact)");
  for (const category of BFCL_SINGLE_TURN_CATEGORIES) assert.ok((await loadBfclCategory(category, dir)).length > 0, category);
});

test("a question line with an integer a double cannot hold fails to load, naming the file and line; one a double holds loads", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "bfcl-unsafe-"));
  try {
    await mkdir(path.join(dir, "data"));
    await mkdir(path.join(dir, "possible_answer"));
    const category = "simple";
    const questionFile = path.join(dir, "data", `BFCL_v3_${category}.json`);
    // 9876543210123456 is past 2^53 but even: a double holds it. 20 digits in a string are text.
    await writeFile(questionFile, [line("simple_0", "1, 9876543210123456"), line("simple_1", "2")].join("\n") + "\n");
    await writeFile(path.join(dir, "possible_answer", `BFCL_v3_${category}.json`), [answer("simple_0"), answer("simple_1")].join("\n") + "\n");
    assert.equal((await loadBfclCategory(category, dir)).length, 2);
    assert.equal(readBfclCategorySync(category, dir).length, 2);

    // 9007199254740993 reads as 9007199254740992 with JSON.parse.
    await writeFile(questionFile, [line("simple_0", "1"), line("simple_1", "9007199254740993")].join("\n") + "\n");
    const named = (err: unknown) =>
      err instanceof BfclDataError &&
      err.message.startsWith(`${questionFile} line 2: the integer 9007199254740993 cannot be held by a double`) &&
      /parseJsonExact/.test(err.message);
    await assert.rejects(loadBfclCategory(category, dir), named);
    assert.throws(() => readBfclCategorySync(category, dir), named);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("unsafeIntegersIn: integer literals whose double is another integer, not digits in strings or floats", () => {
  assert.deepEqual(unsafeIntegersIn('{"a": 9007199254740993, "b": "12345678901234567891", "c": 9876543210123456, "d": [-12345678901234567891]}'), [
    "9007199254740993",
    "-12345678901234567891",
  ]);
  assert.deepEqual(unsafeIntegersIn('{"a": 1.2345678901234567891, "b": 42}'), []);
});
