/**
 * How the CLI fails: one line saying what went wrong and what to do, exit 2 when the input was wrong
 * (config, arguments) and 1 when the environment was (Temporal or PostgreSQL unreachable, a campaign
 * id already running). Stack traces only with `--debug`.
 */
import net from "node:net";
import { NamespaceNotFoundError, ServiceError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, isGrpcServiceError } from "@temporalio/client";
import { CLI_DB_CONNECT_TIMEOUT_MS } from "./database.js";
import { DatabaseUrlError } from "../db/databaseUrl.js";
import { thrownMessage } from "../util/thrown.js";
import type { CliEnv } from "./env.js";

/** Bad input: the config, a flag, an argument. */
export const EXIT_BAD_INPUT = 2;
/** The environment: a service that cannot be reached, a state that forbids the command. */
export const EXIT_ENVIRONMENT = 1;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_BAD_INPUT,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const START_SERVICES = "start it with `node dist/src/services/main.js up` or set";

/**
 * host and port of a `host:port` address (IPv6 in brackets); the port defaults to Temporal's 7233.
 * Anything else is bad input naming `name`, checked before a connection: net.connect would throw a
 * RangeError naming neither the variable nor the value, and the SDKs a deadline later.
 */
export function splitAddress(address: string, defaultPort = 7233, name = "TEMPORAL_ADDRESS"): { host: string; port: number } {
  const m = /^\[([^\]\s]+)\](?::(\d+))?$/.exec(address) ?? /^([^:/[\]\s]+)(?::(\d+))?$/.exec(address);
  if (!m) throw new CliError(`${name}: expected host:port (e.g. 127.0.0.1:7233), got ${JSON.stringify(address)}`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) throw new CliError(`${name}: port ${m[2]} is out of range (1 to 65535) in ${JSON.stringify(address)}`);
  return { host: m[1] as string, port };
}

const SOCKET_CAUSES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "no answer (timed out)",
};

/** Why a TCP connection to host:port fails, in words, or undefined when it opens. */
export async function tcpProbe(host: string, port: number, timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs / 1000}s`));
    socket.once("connect", () => done(undefined));
    socket.once("error", (err: NodeJS.ErrnoException) => done((err.code && SOCKET_CAUSES[err.code]) ?? err.message));
  });
}

export function temporalUnreachable(e: CliEnv, cause: string): CliError {
  return new CliError(`cannot reach Temporal at ${e.temporalAddress} (TEMPORAL_ADDRESS): ${cause}; ${START_SERVICES} TEMPORAL_ADDRESS`, EXIT_ENVIRONMENT);
}

/** Fails fast, naming the cause, when nothing answers at TEMPORAL_ADDRESS (the SDKs wait out a deadline first). */
export async function ensureTemporalReachable(e: CliEnv): Promise<void> {
  const { host, port } = splitAddress(e.temporalAddress);
  const unreachable = await tcpProbe(host, port);
  if (unreachable !== undefined) throw temporalUnreachable(e, unreachable);
}

/** gRPC status codes (from @grpc/grpc-js) we explain; the rest keep the server's words. */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_FAILED_PRECONDITION = 9;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAUTHENTICATED = 16;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_NOT_FOUND = 5;

function grpcCode(err: unknown): number | undefined {
  if (isGrpcServiceError(err)) return err.code;
  if (err instanceof ServiceError && isGrpcServiceError(err.cause)) return err.cause.code;
  return undefined;
}

/** Temporal did not answer (down, restarting, or too slow): worth asking again, not a reason to stop following. */
export function isTemporalOutage(err: unknown): boolean {
  const code = grpcCode(err);
  return code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED;
}

/**
 * A query no worker answered: Temporal's deadline passed, or the server gave up because no worker
 * polled the task queue lately (FAILED_PRECONDITION "no poller seen for task queue recently").
 */
export function isNoWorkerAnswer(err: unknown): boolean {
  const code = grpcCode(err);
  return code === GRPC_DEADLINE_EXCEEDED || (code === GRPC_FAILED_PRECONDITION && /no poller seen/i.test(grpcDetails(err)));
}

/** The gRPC status's own words ("12 UNIMPLEMENTED: ..."), not the SDK's wrapper ("Failed to describe workflow"). */
function grpcMessage(err: unknown): string {
  const e = err instanceof ServiceError && isGrpcServiceError(err.cause) ? err.cause : err;
  return e instanceof Error ? e.message : String(e);
}

function grpcDetails(err: unknown): string {
  const e = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(e) ? e.details : "";
}

export interface TemporalContext {
  /** The campaign the command was about, for messages that suggest the next command. */
  campaignId?: string;
}

/** A CliError for what the Temporal SDK threw, or undefined when it is not one we can explain. */
export function temporalCliError(err: unknown, e: CliEnv, ctx: TemporalContext = {}): CliError | undefined {
  if (err instanceof CliError) return err;
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    const id = ctx.campaignId ?? err.workflowId;
    return new CliError(
      `campaign ${id} is already running (workflow ${err.workflowId}); follow it with \`campaign status ${id} --watch\`, or start a new one with another --id`,
      EXIT_ENVIRONMENT,
      { cause: err },
    );
  }
  if (err instanceof WorkflowNotFoundError) {
    return new CliError(
      `no such campaign workflow: ${err.workflowId}; check the id (\`campaign status\` takes the campaign id or the workflow id)`,
      EXIT_BAD_INPUT,
      { cause: err },
    );
  }
  if (err instanceof NamespaceNotFoundError) {
    return new CliError(
      `Temporal namespace "${err.namespace}" does not exist at ${e.temporalAddress} (TEMPORAL_NAMESPACE); create it or set TEMPORAL_NAMESPACE`,
      EXIT_ENVIRONMENT,
      { cause: err },
    );
  }
  switch (grpcCode(err)) {
    case GRPC_UNAVAILABLE:
      return new CliError(
        `lost the connection to Temporal at ${e.temporalAddress} (TEMPORAL_ADDRESS): ${(err as Error).message}; check that it is running`,
        EXIT_ENVIRONMENT,
        { cause: err },
      );
    case GRPC_DEADLINE_EXCEEDED:
      return new CliError(`Temporal at ${e.temporalAddress} did not answer in time; check that it is running and not overloaded`, EXIT_ENVIRONMENT, {
        cause: err,
      });
    case GRPC_NOT_FOUND:
      // DescribeNamespace's answer (the worker checks the namespace before creating workers).
      if (/^Namespace .* is not found/i.test(grpcDetails(err)))
        return new CliError(
          `Temporal namespace "${e.namespace}" does not exist at ${e.temporalAddress} (TEMPORAL_NAMESPACE); create it or set TEMPORAL_NAMESPACE`,
          EXIT_ENVIRONMENT,
          { cause: err },
        );
      return undefined;
    case GRPC_UNIMPLEMENTED:
      // What gRPC makes of an HTTP/2 404: some other server (a proxy, the UI, another service) has the port.
      return new CliError(
        `${e.temporalAddress} (TEMPORAL_ADDRESS) answers but is not a Temporal frontend (${grpcMessage(err)}); check the host and port (the frontend's gRPC port, 7233 by default, not the UI's)`,
        EXIT_ENVIRONMENT,
        { cause: err },
      );
    case GRPC_PERMISSION_DENIED:
    case GRPC_UNAUTHENTICATED:
      return new CliError(
        `Temporal at ${e.temporalAddress} refused the request: ${(err as Error).message}; check the namespace and credentials`,
        EXIT_ENVIRONMENT,
        { cause: err },
      );
    default:
      return undefined;
  }
}

/** `postgres://user:secret@host:5432/db` -> `host:5432/db`: never print a password. */
export function describeDatabaseUrl(url: string): string {
  if (url.startsWith("pglite:")) return url;
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return "(unparseable URL)";
  }
}

const PG_CAUSES: Record<string, string> = {
  "28P01": "password authentication failed",
  "28000": "authentication rejected",
  "3D000": "the database does not exist",
  "57P03": "the server is starting up or shutting down",
};

/**
 * PostgreSQL's answers when a table or column this code names is missing: the database has an older
 * toolloop schema than the code (an upgrade whose `db migrate` has not run yet), or none at all.
 */
const PG_SCHEMA_CODES = new Set(["42P01", "42703"]);

/** A CliError for an unusable DATABASE_URL or a PostgreSQL connection failure, or undefined when `err` is something else. */
export function databaseCliError(err: unknown, databaseUrl: string | undefined): CliError | undefined {
  // Before the variable check: openDatabase is also called with URLs that are not DATABASE_URL's.
  if (err instanceof DatabaseUrlError) return new CliError(err.message, EXIT_BAD_INPUT, { cause: err });
  if (databaseUrl === undefined) return undefined;
  // drizzle wraps the driver's error ("Failed query: ...") in `cause`; pg reports a refused connection
  // to several addresses (IPv4 and IPv6) as an AggregateError.
  for (let cur: unknown = err, n = 0; typeof cur === "object" && cur !== null && n < 5; cur = (cur as { cause?: unknown }).cause, n++) {
    const first = cur instanceof AggregateError && cur.errors.length > 0 ? (cur.errors[0] as unknown) : cur;
    const code = (first as { code?: unknown }).code;
    if (typeof code === "string" && PG_SCHEMA_CODES.has(code)) {
      return new CliError(
        `the database at ${describeDatabaseUrl(databaseUrl)} (DATABASE_URL) lacks tables or columns this version of toolloop reads (${thrownMessage(first)}): run \`toolloop db migrate\``,
        EXIT_ENVIRONMENT,
        { cause: err },
      );
    }
    const cause = typeof code === "string" ? (SOCKET_CAUSES[code] ?? PG_CAUSES[code]) : undefined;
    if (cause !== undefined) {
      return new CliError(
        `cannot reach PostgreSQL at ${describeDatabaseUrl(databaseUrl)} (DATABASE_URL): ${cause}; ${START_SERVICES} DATABASE_URL`,
        EXIT_ENVIRONMENT,
        { cause: err },
      );
    }
    // The connect limit of openCliDatabase: pg-pool's and the client's own words for it.
    if (cur instanceof Error && /connection timeout|timeout expired|timeout exceeded when trying to connect/i.test(cur.message)) {
      return new CliError(
        `cannot reach PostgreSQL at ${describeDatabaseUrl(databaseUrl)} (DATABASE_URL): no answer within ${CLI_DB_CONNECT_TIMEOUT_MS / 1000}s; check that it is running`,
        EXIT_ENVIRONMENT,
        { cause: err },
      );
    }
  }
  return undefined;
}

/** Temporal's closed execution statuses in the words its UI uses. */
const ENDED_WORDS: Record<string, string> = {
  COMPLETED: "Completed",
  FAILED: "Failed",
  CANCELLED: "Canceled",
  CANCELED: "Canceled",
  TERMINATED: "Terminated",
  TIMED_OUT: "Timed out",
  CONTINUED_AS_NEW: "Continued as new",
};

/**
 * An operator command (`pause`, `abort`, ...) sent to a campaign whose workflow has closed: bad input,
 * since nothing can change it now. `status` is Temporal's execution status name (COMPLETED, ...).
 */
export function campaignEndedError(id: string, workflowId: string, status: string, verb: string): CliError {
  const ended = ENDED_WORDS[status] ?? status;
  return new CliError(
    `campaign ${id} has already ended (workflow ${workflowId}: ${ended}): there is nothing to ${verb}; \`toolloop campaign status ${id}\` shows how it ended`,
    EXIT_BAD_INPUT,
  );
}

/** Everything main() knows how to explain; anything else is an unexpected error. */
export function toCliError(err: unknown, e: CliEnv): CliError | undefined {
  return temporalCliError(err, e) ?? databaseCliError(err, e.databaseUrl);
}

/** What main() prints for an error: one line, or the stack (and causes) with --debug. */
export function renderCliFailure(err: unknown, e: CliEnv, debug: boolean): { text: string; exitCode: number } {
  const known = toCliError(err, e);
  if (debug) {
    const chain: string[] = [];
    for (let cur: unknown = err, n = 0; cur !== undefined && n < 5; cur = (cur as { cause?: unknown }).cause, n++) {
      chain.push(cur instanceof Error ? (cur.stack ?? cur.message) : thrownMessage(cur));
    }
    return { text: `${known ? `error: ${known.message}\n` : ""}${chain.join("\ncaused by: ")}`, exitCode: known?.exitCode ?? EXIT_ENVIRONMENT };
  }
  if (known) return { text: `error: ${known.message}`, exitCode: known.exitCode };
  const message = thrownMessage(err);
  return { text: `error: ${message.split("\n")[0] ?? message} (unexpected; run with --debug for the stack trace)`, exitCode: EXIT_ENVIRONMENT };
}
