/** How the CLI's commands open PostgreSQL. */
import { openDatabase, type DbHandle } from "../db/client.js";

/**
 * How long a command waits for PostgreSQL to accept a connection. Without a limit a server that takes
 * the TCP connection and never answers (hung, or another service on that port) held the command for
 * good; node-postgres sets none by default.
 */
export const CLI_DB_CONNECT_TIMEOUT_MS = 5000;

/** DATABASE_URL opened for one command: no transient retries (a refused connection is an answer), a connect limit. */
export function openCliDatabase(url: string, opts: { poolSize?: number } = {}): Promise<DbHandle> {
  return openDatabase(url, { ...opts, transientRetry: { maxWaitMs: 0 }, connectTimeoutMs: CLI_DB_CONNECT_TIMEOUT_MS });
}
