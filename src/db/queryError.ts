/**
 * drizzle reports a failed statement as `Failed query: <the whole SQL>\nparams: <every parameter>`
 * and keeps the driver's reason ("the database system is shutting down", a constraint's name) only
 * in `cause`. A batch insert's parameters are its samples: tens of kilobytes in an activity's failure,
 * the worker's log and the stage's last error, and none of it says what went wrong.
 */
const PREFIX = "Failed query:";
const SQL_PREVIEW_CHARS = 120;

/** The driver's reason and the start of the statement, for a drizzle query error; else undefined. */
export function describeQueryError(err: unknown): string | undefined {
  if (!(err instanceof Error) || !err.message.startsWith(PREFIX)) return undefined;
  const sql = (err.message.slice(PREFIX.length).split("\nparams:")[0] ?? "").replace(/\s+/g, " ").trim();
  const preview = sql.length > SQL_PREVIEW_CHARS ? `${sql.slice(0, SQL_PREVIEW_CHARS)}…` : sql;
  return `database query failed: ${reasonOf(err.cause)} (query: ${preview})`;
}

function reasonOf(cause: unknown): string {
  // node-postgres reports a refused connection to several addresses as an AggregateError without a message.
  const first = cause instanceof AggregateError && cause.errors.length > 0 ? (cause.errors[0] as unknown) : cause;
  if (!(first instanceof Error)) return cause === undefined ? "no reason given" : String(cause);
  const code = (first as { code?: unknown }).code;
  const message = first.message || first.name;
  return typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
}
