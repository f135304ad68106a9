import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { JsonFileError, jsonSyntaxErrorOffset, lineColumn, readJsonFile, readJsonFileSync } from "../../../src/util/jsonFile.js";

const tmp = mkdtempSync(path.join(tmpdir(), "toolloop-jsonfile-"));
const file = (name: string, content: string | Buffer) => {
  const f = path.join(tmp, name);
  writeFileSync(f, content);
  return f;
};
const opts = { maxBytes: 1024, what: "a test file" };

/** Both readers must agree: the CLI uses the sync one, the tool loader the async one. */
async function bothFail(f: string, problem: string, message: RegExp | string): Promise<void> {
  for (const read of [async () => readJsonFileSync(f, opts), () => readJsonFile(f, opts)]) {
    await assert.rejects(read(), (err: unknown) => {
      assert.ok(err instanceof JsonFileError, String(err));
      assert.equal(err.problem, problem);
      if (typeof message === "string") assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    });
  }
}

test("a UTF-8 BOM is stripped once; the JSON inside is parsed", async () => {
  const f = file("bom.json", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a": [1, "é"]}')]));
  assert.deepEqual(readJsonFileSync(f, opts), { a: [1, "é"] });
  assert.deepEqual(await readJsonFile(f, opts), { a: [1, "é"] });
  // A second BOM is content, and not JSON.
  await bothFail(
    file("bom2.json", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), Buffer.from("{}")])),
    "invalid_json",
    /bom2\.json: invalid JSON at line 1 column 1: /,
  );
});

test("missing files, directories, oversized files and non-UTF-8 are one line each", async () => {
  const missing = path.join(tmp, "nope.json");
  await bothFail(missing, "not_found", `file not found: ${missing}`);
  const dir = path.join(tmp, "adir");
  mkdirSync(dir);
  await bothFail(dir, "not_a_file", `${dir} is a directory, not a JSON file`);
  const big = file("big.json", `[${"1,".repeat(1000)}1]`);
  await bothFail(big, "too_large", `${big} is 2.0 KiB; a test file may be at most 1 KiB`);
  await bothFail(file("latin1.json", Buffer.from([0x22, 0xe9, 0x22])), "not_utf8", /latin1\.json is not UTF-8 text$/);
  await bothFail(file("empty.json", ""), "invalid_json", /empty\.json is empty; expected JSON$/);
});

test("a syntax error names the file, line and column, without V8's quote of the text", async () => {
  const f = file("bad.json", '{\n  "a": 1,\n  "b": }\n');
  await bothFail(f, "invalid_json", `${f}: invalid JSON at line 3 column 8: Unexpected token '}'`);
  const unterminated = file("unterminated.json", '{"a": "x');
  await bothFail(unterminated, "invalid_json", /unterminated\.json: invalid JSON at line 1 column 9: Unterminated string$/);
  const trailing = file("trailing.json", "{}\n}");
  await bothFail(trailing, "invalid_json", /trailing\.json: invalid JSON at line 2 column 1: Unexpected non-whitespace character after JSON$/);
});

test("the scanner finds an error exactly when JSON.parse does, deep nesting included", () => {
  const valid = ['{"a":[1,2,{"b":null}],"c":"\\u00e9\\n","d":-1.5e+3}', "[]", "{}", " 0 ", '"x"', "[[[[[]]]]]", "[".repeat(100_000) + "]".repeat(100_000)];
  for (const t of valid) assert.equal(jsonSyntaxErrorOffset(t), undefined, t.slice(0, 40));
  const invalid: [string, number][] = [
    ["{,}", 1],
    ["[1,]", 3],
    ['{"a" 1}', 5],
    ["01", 1],
    ['"\\x"', 1],
    ["[1 2]", 3],
    ["tru", 0],
    ["", 0],
    ['{"a":1', 6],
    ["[".repeat(100_000), 100_000],
  ];
  for (const [t, at] of invalid) {
    assert.throws(() => JSON.parse(t));
    assert.equal(jsonSyntaxErrorOffset(t), at, t.slice(0, 40));
  }
  // Random mutations of a valid text: the scanner and JSON.parse always agree on validity.
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const base = '{"tools":[{"name":"a","inputSchema":{"type":"object","properties":{"x":{"type":"string"}},"required":["x"]}}],"n":[1.5,-2,true,false,null]}';
  const alphabet = '{}[],:"\\ 0123456789.-eE+truefalsn\n';
  for (let k = 0; k < 3000; k++) {
    const chars = base.split("");
    for (let m = 0; m <= rand(3); m++) {
      const at = rand(chars.length);
      const op = rand(3);
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, alphabet[rand(alphabet.length)] as string);
      else chars[at] = alphabet[rand(alphabet.length)] as string;
    }
    const t = chars.join("");
    let parses = true;
    try {
      JSON.parse(t);
    } catch {
      parses = false;
    }
    assert.equal(jsonSyntaxErrorOffset(t) === undefined, parses, t);
  }
});

test("lineColumn is 1-based", () => {
  assert.deepEqual(lineColumn("ab\ncd", 0), { line: 1, column: 1 });
  assert.deepEqual(lineColumn("ab\ncd", 4), { line: 2, column: 2 });
});
