/** DATABASE_URL checks: what each form names, and the problems reported (naming the variable) before PGlite or pg is asked. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { openDatabase } from "../../../src/db/client.js";
import { checkDatabaseUrl, DatabaseUrlError, parseDatabaseUrl } from "../../../src/db/databaseUrl.js";

const tmp = mkdtempSync(path.join(tmpdir(), "toolloop-database-url-"));
const file = path.join(tmp, "a-file");
writeFileSync(file, "x");

function urlError(message: RegExp) {
  return (err: unknown) => err instanceof DatabaseUrlError && message.test(err.message);
}

test("parseDatabaseUrl: postgres URLs, pglite:<dir> and an explicit pglite:memory", () => {
  assert.deepEqual(parseDatabaseUrl("postgres://u@h:5432/d"), { driver: "pg", url: "postgres://u@h:5432/d" });
  assert.deepEqual(parseDatabaseUrl("postgresql://h/d"), { driver: "pg", url: "postgresql://h/d" });
  assert.deepEqual(parseDatabaseUrl("pglite:memory"), { driver: "pglite", memory: true });
  assert.deepEqual(parseDatabaseUrl("pglite:./data"), { driver: "pglite", dir: "./data" });
  // An empty path (pglite:$UNSET_DIR) is not silently an in-memory database.
  for (const url of ["pglite:", "pglite: "])
    assert.throws(() => parseDatabaseUrl(url), urlError(/^DATABASE_URL: pglite: needs a folder \(pglite:<dir>\), or pglite:memory/));
  for (const url of ["notaurl", "mysql://h/d", "", "pglite"])
    assert.throws(() => parseDatabaseUrl(url), urlError(/^DATABASE_URL: expected postgres:\/\/\.\.\. or pglite:<dir>, got "/));
});

test("checkDatabaseUrl: a PGlite folder must be a directory, or creatable in an existing one", () => {
  assert.deepEqual(checkDatabaseUrl(`pglite:${tmp}`), { driver: "pglite", dir: tmp });
  assert.deepEqual(checkDatabaseUrl(`pglite:${path.join(tmp, "new")}`), { driver: "pglite", dir: path.join(tmp, "new") });
  assert.throws(() => checkDatabaseUrl(`pglite:${file}`), urlError(new RegExp(`^DATABASE_URL: pglite:${file} is not a directory$`)));
  assert.throws(() => checkDatabaseUrl(`pglite:${path.join(file, "sub")}`), urlError(/^DATABASE_URL: pglite:.*a-file\/sub: ENOTDIR/));
  assert.throws(
    () => checkDatabaseUrl(`pglite:${path.join(tmp, "missing", "db")}`),
    urlError(new RegExp(`^DATABASE_URL: pglite:.*missing/db: its parent folder ${path.join(tmp, "missing")} does not exist$`)),
  );
});

test("openDatabase refuses these before PGlite runs, and names DATABASE_URL when PGlite itself fails", async () => {
  await assert.rejects(openDatabase("pglite:"), urlError(/^DATABASE_URL: pglite: needs a folder/));
  await assert.rejects(openDatabase(`pglite:${file}`), urlError(/is not a directory$/));
  // A folder holding something else: PGlite rejects with a bare ExitStatus object, reported by its message.
  const junk = path.join(tmp, "junk");
  mkdirSync(junk);
  writeFileSync(path.join(junk, "notes.txt"), "not a database");
  await assert.rejects(
    openDatabase(`pglite:${junk}`),
    urlError(/^DATABASE_URL: PGlite cannot open pglite:.*junk \(ExitStatus: Program terminated with exit\(1\)\); give an empty folder or one PGlite created$/),
  );
});
