/**
 * What a stage test that runs a handler directly needs: a migrated database (the suite's
 * DATABASE_URL, else a private PostgreSQL in a temp dir), a simulator, and a work dir; close() stops
 * what was started, in reverse order.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { migrateDatabase, openDatabase, type DbHandle } from "../../src/db/client.js";
import { startSimulator, type SimulatorHandle } from "../../src/llm/simulator/server.js";
import { startPostgres } from "../../src/services/postgres.js";

export interface StageResources {
  db: DbHandle;
  sim: SimulatorHandle;
  workDir: string;
  close(): Promise<void>;
}

/**
 * A migrated database for a test: the suite's DATABASE_URL, else a private PostgreSQL under
 * `workDir/pg`. What was started is pushed on `stops` (stop them in reverse order).
 */
export async function migratedTestDatabase(workDir: string, stops: (() => Promise<void>)[]): Promise<DbHandle> {
  let url = process.env.DATABASE_URL;
  if (!url) {
    const pg = await startPostgres({ dataDir: path.join(workDir, "pg") });
    url = pg.url;
    stops.push(() => pg.stop());
  }
  const db = await openDatabase(url);
  stops.push(() => db.close());
  await migrateDatabase(db);
  return db;
}

export async function startStageResources(name: string, simulatorSeed: number): Promise<StageResources> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `toolloop-${name}-`));
  const stops: (() => Promise<void>)[] = [];
  const db = await migratedTestDatabase(workDir, stops);
  const sim = await startSimulator({ seed: simulatorSeed, latencyMs: 5, maxConcurrency: 8, quiet: true });
  stops.push(() => sim.close());
  return {
    db,
    sim,
    workDir,
    async close() {
      for (const stop of stops.reverse()) await stop();
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}
