/**
 * A migrated PGlite database in a fresh temporary folder for one test, closed and removed after it
 * (closed first: PGlite aborts when its folder goes while it is open).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import { migrateDatabase, openDatabase, type DbHandle } from "../../src/db/client.js";

export async function pgliteForTest(t: TestContext, prefix: string): Promise<{ db: DbHandle; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `toolloop-${prefix}-`));
  const db = await openDatabase(`pglite:${path.join(dir, "db")}`);
  t.after(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await migrateDatabase(db);
  return { db, dir };
}
