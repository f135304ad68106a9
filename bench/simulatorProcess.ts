/**
 * The LLM simulator in a process of its own, for benchmarks that measure the worker: run in the
 * worker's process, the simulator's CPU would be counted as the worker's and the two would share one
 * event loop. Started with child_process.fork; talks over IPC:
 *
 *   argv[2]: JSON SimulatorOptions (seed, latencyMs, maxConcurrency, ...)
 *   -> { type: "ready", url }
 *   <- { type: "stats" }                 -> { type: "stats", stats }
 *   <- { type: "resetStats" }            -> { type: "reset" }   (the counters and the recorded bodies start again)
 *   <- { type: "dumpBodies", file }      -> { type: "dumped", count }   (chat request bodies since the last reset, one JSON per line)
 *   <- { type: "close" }                 -> exits
 */
import fs from "node:fs";
import { startSimulator, type SimulatorOptions } from "../src/llm/simulator/server.js";

type Command = { type: "stats" } | { type: "resetStats" } | { type: "dumpBodies"; file: string } | { type: "close" };

const send = (m: unknown): void => {
  process.send?.(m);
};

const opts = JSON.parse(process.argv[2] ?? "{}") as SimulatorOptions;
// Bodies of chat requests as received, kept to be replayed by a plain HTTP client on the same work.
const bodies: string[] = [];
const sim = await startSimulator({
  ...opts,
  quiet: true,
  onRequestBody: (path, body) => {
    if (path === "/v1/chat/completions") bodies.push(body);
  },
});
const closeAndExit = (): void => {
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("message", (m: Command) => {
  if (m.type === "stats") send({ type: "stats", stats: sim.stats() });
  else if (m.type === "resetStats") {
    sim.resetStats();
    // A bench running several trials replays each campaign's own bodies.
    bodies.length = 0;
    send({ type: "reset" });
  } else if (m.type === "dumpBodies") {
    // JSON request bodies have no raw newlines, so one per line is unambiguous.
    fs.writeFileSync(m.file, bodies.join("\n"));
    send({ type: "dumped", count: bodies.length });
  } else if (m.type === "close") closeAndExit();
});
// The parent going away takes the simulator with it.
process.on("disconnect", closeAndExit);
send({ type: "ready", url: sim.url });
