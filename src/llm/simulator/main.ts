#!/usr/bin/env node
/**
 * Runs the toolloop LLM simulator standalone, e.g. for `bfcl` or manual checks:
 *   node dist/src/llm/simulator/main.js --port 8000 --seed 1 --latency-ms 50 --max-concurrency 64
 * and, as the SIMULATED policy of a stand-in checkpoint (serve.policy with engine "simulator"):
 *   node dist/src/llm/simulator/main.js --host 0.0.0.0 --port 8000 --model my-policy --mistake-rate 0.3 \
 *     --checkpoint-profile merged/toolloop_profile.json --idle-exit-minutes 120
 * With `--port 0 --port-file F` it listens on the port F names when that is free (a restarted server
 * keeps its URL), else on any free port, and writes the port it listens on to F (serve.policy reads it).
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import fs from "node:fs";
import { writeFileAtomicSync } from "../../util/atomicFiles.js";
import { portFromText } from "../../util/portFile.js";
import { describeListenFailure, hostProblem } from "../../util/listenAddress.js";
import { DEFAULT_DIALOGUE_RATES, DIALOGUE_RATE_NAMES, dialogueRateFlag, type DialogueSimOptions } from "./dialogue/options.js";
import { CheckpointProfileError, loadCheckpointProfile, type LoadedCheckpointProfile } from "./checkpointProfile.js";
import { watchIdle } from "./idleExit.js";
import { REASONING_STYLES, type ReasoningStyle } from "./reasoning.js";
import { REFUSAL_STATUSES, startSimulator, type RefusalStatus } from "./server.js";

/** A week: longer than any campaign leaves a policy unused on purpose. */
const MAX_IDLE_MINUTES = 7 * 24 * 60;
/** Exit statuses as the toolloop CLI's (src/cli/errors.ts): a value that can never work, or the machine's state. */
const EXIT_BAD_INPUT = 2;
const EXIT_ENVIRONMENT = 1;

function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string) => {
    // Plain decimal digits only: Number() alone takes " 5", "2.0", "1e2" and "0x1F90" (min is never negative).
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`} (got "${v}")`);
    return n;
  };
}

function rateArg(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be a number between 0 and 1 (got "${v}")`);
    return n;
  };
}

function refusalArg(v: string): RefusalStatus {
  const n = Number(v);
  if (!(REFUSAL_STATUSES as readonly number[]).includes(n) || !/^\d+$/.test(v))
    throw new InvalidArgumentError(`--refuse-status must be one of ${REFUSAL_STATUSES.join(", ")} (got "${v}")`);
  return n as RefusalStatus;
}

function minutesArg(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > MAX_IDLE_MINUTES)
    throw new InvalidArgumentError(`--idle-exit-minutes must be a number of minutes between 0 (never) and ${MAX_IDLE_MINUTES} (got "${v}")`);
  return n;
}

function reasoningStyleArg(v: string): ReasoningStyle {
  if (!(REASONING_STYLES as readonly string[]).includes(v))
    throw new InvalidArgumentError(`--reasoning must be one of ${REASONING_STYLES.join(", ")} (got "${v}")`);
  return v as ReasoningStyle;
}

function hostArg(v: string): string {
  const problem = hostProblem(v);
  if (problem) throw new InvalidArgumentError(`--host: ${problem}`);
  return v;
}

const program = new Command()
  .name("toolloop-simulator")
  .description("Scripted LLM server with vLLM's OpenAI-compatible API (for tests and demos; not a model)")
  .option("--host <addr>", "bind address", hostArg, "127.0.0.1")
  .option("--port <n>", "port (0 picks a free one)", intArg("--port", 0, 65535), 8000)
  .option("--port-file <file>", "write the port listened on to this file; with --port 0, first try the port it names")
  .option("--seed <n>", "content seed", intArg("--seed", 0), 0)
  .option("--latency-ms <n>", "latency per request", intArg("--latency-ms", 0), 0)
  .option("--latency-jitter-ms <n>", "extra random latency up to this", intArg("--latency-jitter-ms", 0), 0)
  .option("--max-concurrency <n>", "requests served at once; the rest queue", intArg("--max-concurrency", 1), 64)
  .option("--mistake-rate <p>", "fraction of tool-agent answers with a deliberate mistake", rateArg("--mistake-rate"), 0)
  .option(
    "--silent-mistake-rate <p>",
    "fraction of tool-agent answers with a schema-valid wrong argument value (rules cannot catch it)",
    rateArg("--silent-mistake-rate"),
    0,
  )
  .option("--judge-error-rate <p>", "fraction of simulated judge verdicts that are wrong", rateArg("--judge-error-rate"), 0)
  .option("--model <name...>", "served model names (default: the toolloop-sim family)")
  .option("--rate-429 <p>", "fraction of requests answered 429", rateArg("--rate-429"), 0)
  .option("--rate-500 <p>", "fraction of requests answered 500", rateArg("--rate-500"), 0)
  .option("--rate-hang <p>", "fraction of requests never answered", rateArg("--rate-hang"), 0)
  .option(
    "--refuse-status <status>",
    "answer every POST with this refusal, as a misconfigured endpoint does: 401 (no valid key) or 403 (key not allowed), vLLM/OpenAI-shaped JSON; 407 as a forward proxy asking for credentials",
    refusalArg,
  )
  .option("--rate-malformed-json <p>", "fraction of responses cut short", rateArg("--rate-malformed-json"), 0)
  .option(
    "--rate-truncated-tool-calls <p>",
    "fraction of tool-call answers cut off inside a call (as vLLM returns them: the raw text, no tool_calls, finish_reason length)",
    rateArg("--rate-truncated-tool-calls"),
    0,
  )
  .option(
    "--reasoning <style>",
    `answer as a reasoning model served by vLLM: ${REASONING_STYLES.join(", ")} (parser: thought in reasoning_content; inline: <think>...</think> before the content; inlineOpened: only the closing tag)`,
    reasoningStyleArg,
  )
  .option("--reasoning-model <name...>", "with --reasoning: the served model names that reason (default: every one)")
  .option("--checkpoint-profile <file>", "serve as the SIMULATED policy of a stand-in checkpoint: its toolloop_profile.json scales the mistake rate per tool")
  .option("--idle-exit-minutes <n>", "exit after this many minutes without requests (decimals allowed; 0: never)", minutesArg, 0);

const DIALOGUE_RATE_HELP: Record<(typeof DIALOGUE_RATE_NAMES)[number], string> = {
  assistantSchemaViolationRate: "multi-turn: fraction of assistant answers whose calls break the tool's schema",
  assistantDisagreementRate: "multi-turn: at temperature > 0, fraction of assistant samples that disagree with the truthful answer",
  userEarlyStopRate: "multi-turn: fraction of dialogues whose user says done before the plan is served",
  userChangeOfMindRate: "multi-turn: per user turn, chance of changing an earlier request",
  missingParameterRate: "multi-turn: per user request, chance a required value is left out",
  toolServerErrorRate: "multi-turn: fraction of tool calls the simulated tool server fails on its own",
  plannerBadPlanRate: "multi-turn: fraction of planner answers that cannot be used",
};
for (const name of DIALOGUE_RATE_NAMES) {
  const flag = dialogueRateFlag(name);
  program.option(`${flag} <p>`, DIALOGUE_RATE_HELP[name], rateArg(flag), DEFAULT_DIALOGUE_RATES[name]);
}

// Commander exits 1 on a bad flag; a bad flag is bad input, as everywhere in toolloop.
program.exitOverride();
try {
  program.parse();
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_INPUT);
}
const o = program.opts<{
  host: string;
  port: number;
  portFile?: string;
  seed: number;
  latencyMs: number;
  latencyJitterMs: number;
  maxConcurrency: number;
  mistakeRate: number;
  silentMistakeRate: number;
  judgeErrorRate: number;
  model?: string[];
  rate429: number;
  rate500: number;
  refuseStatus?: RefusalStatus;
  rateHang: number;
  rateMalformedJson: number;
  rateTruncatedToolCalls: number;
  reasoning?: ReasoningStyle;
  reasoningModel?: string[];
  checkpointProfile?: string;
  idleExitMinutes: number;
}>();
if (o.reasoningModel !== undefined && o.reasoning === undefined) {
  console.error("[toolloop-simulator] --reasoning-model needs --reasoning <style>");
  process.exit(EXIT_BAD_INPUT);
}
const allOpts = program.opts<Record<string, unknown>>();
const dialogue: DialogueSimOptions = Object.fromEntries(DIALOGUE_RATE_NAMES.map((n) => [n, allOpts[`dialogue${n[0]!.toUpperCase()}${n.slice(1)}`]]));

let checkpointProfile: LoadedCheckpointProfile | undefined;
if (o.checkpointProfile !== undefined) {
  try {
    checkpointProfile = await loadCheckpointProfile(o.checkpointProfile);
  } catch (err) {
    if (!(err instanceof CheckpointProfileError)) throw err;
    console.error(`[toolloop-simulator] ${err.message}`);
    process.exit(EXIT_BAD_INPUT);
  }
}

// Handlers go in before the server starts, so a signal during start-up is not fatal.
let stopping = false;
const running: { sim?: Awaited<ReturnType<typeof startSimulator>> } = {};
// Stopped by a signal, it exits 128 + the signal's number once closed (143 for SIGTERM), as a shell
// reports a process a signal ended: a server stopped from outside did not succeed (a launcher that
// reads the exit code, e.g. the local one, then says `failed`); only the idle exit is a clean 0.
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = SIGNAL_EXIT[signal] ?? 1;
  const sim = running.sim;
  if (!sim) return; // start-up sees `stopping` and closes
  console.log(`[toolloop-simulator] ${signal}: stopping (${sim.stats().requests} requests received)`);
  // Let the event loop drain once the server is closed; no process.exit in a signal handler.
  sim.close().catch((err: unknown) => {
    console.error("[toolloop-simulator] close failed:", err);
    process.exitCode = 1;
  });
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));

/** The port a port file names, when it holds one (an earlier run of this server wrote it). */
function portNamedBy(file: string): number | undefined {
  try {
    return portFromText(fs.readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

const earlierPort = o.port === 0 && o.portFile !== undefined ? portNamedBy(o.portFile) : undefined;
const startOn = (port: number) =>
  startSimulator({
    host: o.host,
    port,
    seed: o.seed,
    latencyMs: o.latencyMs,
    latencyJitterMs: o.latencyJitterMs,
    maxConcurrency: o.maxConcurrency,
    mistakeRate: o.mistakeRate,
    silentMistakeRate: o.silentMistakeRate,
    judgeErrorRate: o.judgeErrorRate,
    dialogue,
    ...(o.model ? { models: o.model } : {}),
    ...(checkpointProfile ? { checkpointProfile } : {}),
    ...(o.reasoning ? { reasoning: { style: o.reasoning, ...(o.reasoningModel ? { models: o.reasoningModel } : {}) } } : {}),
    faults: {
      rate429: o.rate429,
      rate500: o.rate500,
      rateHang: o.rateHang,
      rateMalformedJson: o.rateMalformedJson,
      rateTruncatedToolCalls: o.rateTruncatedToolCalls,
      ...(o.refuseStatus !== undefined ? { refuseStatus: o.refuseStatus } : {}),
    },
  });
// A listen failure (port in use, an address not this machine's) is one line naming the flag, no stack.
const sim = await (
  earlierPort === undefined
    ? startOn(o.port)
    : startOn(earlierPort).catch((err: unknown) => {
        // Taken since (another server on this host): any free port, and the file says which.
        if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
        console.log(`[toolloop-simulator] port ${earlierPort} (named by ${o.portFile}) is taken; listening on a free port`);
        return startOn(0);
      })
).catch((err: unknown) => {
  const failure = describeListenFailure(err, o.host, o.port);
  console.error(`[toolloop-simulator] ${failure.message}`);
  process.exit(failure.badInput ? EXIT_BAD_INPUT : EXIT_ENVIRONMENT);
});

running.sim = sim;
if (o.portFile !== undefined) {
  try {
    writeFileAtomicSync(o.portFile, `${sim.port}\n`);
  } catch (err) {
    console.error(`[toolloop-simulator] --port-file ${o.portFile}: cannot write it: ${err instanceof Error ? err.message : String(err)}`);
    await sim.close();
    process.exit(EXIT_ENVIRONMENT);
  }
  console.log(`[toolloop-simulator] port ${sim.port} written to ${o.portFile}`);
}
if (o.idleExitMinutes > 0 && !stopping) {
  const idleMs = o.idleExitMinutes * 60_000;
  console.log(`[toolloop-simulator] will exit after ${o.idleExitMinutes} minutes without requests`);
  watchIdle({
    idleMs,
    idleForMs: () => sim.idleForMs(),
    onIdle: (idle) => {
      if (stopping) return;
      stopping = true;
      console.log(
        `[toolloop-simulator] idle exit: no requests for ${(idle / 60_000).toFixed(2)} minutes (--idle-exit-minutes ${o.idleExitMinutes}); stopping (${sim.stats().requests} requests received)`,
      );
      sim.close().catch((err: unknown) => {
        console.error("[toolloop-simulator] close failed:", err);
        process.exitCode = 1;
      });
    },
  });
}
if (stopping) {
  console.log("[toolloop-simulator] stopping");
  await sim.close();
}
