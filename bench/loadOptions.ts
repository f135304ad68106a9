/**
 * The options the endpoint-load benches share (bench/synthesisThroughput.ts, bench/scoring.ts): the
 * samples, the simulated endpoint's latency L and concurrency cap C, and how the client loads it. A
 * bad option or number is refused with the bench's usage line instead of a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

export const LOAD_OPTIONS = {
  help: { type: "boolean" },
  samples: { type: "string", default: "5000" },
  "latency-ms": { type: "string", default: "200" },
  concurrency: { type: "string", default: "32" },
  // Requests the client keeps open; above C so the server's queue never runs dry between a
  // response and the next request (as one configures a client in front of a vLLM server).
  "client-concurrency": { type: "string" },
  // Default: the stage's own default batch size.
  "batch-size": { type: "string" },
  "batches-in-parallel": { type: "string", default: "4" },
} as const satisfies ParseArgsConfig["options"];

export interface LoadSettings {
  samples: number;
  latencyMs: number;
  /** The endpoint's concurrency cap C. */
  cap: number;
  clientConcurrency: number;
  /** Undefined: the stage's default. */
  batchSize: number | undefined;
  batchesInParallel: number;
}

/** Parses argv with LOAD_OPTIONS plus `extra`; prints `usage` and exits on --help (0) or a bad option (2). */
export function parseBenchArgs<E extends NonNullable<ParseArgsConfig["options"]>>(usage: string, extra: E) {
  let parsed;
  try {
    parsed = parseArgs<{ options: typeof LOAD_OPTIONS & E }>({ options: { ...LOAD_OPTIONS, ...extra } });
  } catch (err) {
    exitWithUsage(usage, (err as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed.values;
}

/** The shared settings as numbers, each a positive integer or the bench exits with its usage. */
export function loadSettings(values: { [K in Exclude<keyof typeof LOAD_OPTIONS, "help">]?: string | undefined }, usage: string): LoadSettings {
  const cap = Number(values.concurrency);
  const settings: LoadSettings = {
    samples: Number(values.samples),
    latencyMs: Number(values["latency-ms"]),
    cap,
    clientConcurrency: Number(values["client-concurrency"] ?? 2 * cap),
    batchSize: values["batch-size"] === undefined ? undefined : Number(values["batch-size"]),
    batchesInParallel: Number(values["batches-in-parallel"]),
  };
  for (const [name, n] of Object.entries({
    samples: settings.samples,
    "latency-ms": settings.latencyMs,
    concurrency: cap,
    "client-concurrency": settings.clientConcurrency,
    "batch-size": settings.batchSize ?? 1,
    "batches-in-parallel": settings.batchesInParallel,
  })) {
    if (!Number.isInteger(n) || n < 1) exitWithUsage(usage, `--${name} must be a positive integer, got ${String(n)}`);
  }
  return settings;
}

function exitWithUsage(usage: string, problem: string): never {
  console.error(`${problem}\n${usage}`);
  process.exit(2);
}
