/**
 * `toolloop demo`: its flags here, its work in demo.ts, imported only when it runs (it brings the
 * worker SDK, every activity and the dev server, which every other command would otherwise load).
 */
import type { Command } from "commander";

/** `toolloop demo`'s flags as commander hands them over. */
export interface DemoOptions {
  config: string;
  stateDir: string;
  outputDir?: string;
  latencyMs: string;
  mistakeRate: string;
  silentMistakeRate: string;
  judgeErrorRate: string;
  keepRunning?: boolean;
  workerLogLevel: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("run the example campaign end to end on embedded defaults (Temporal dev server, PGlite, LLM simulator)")
    .option("--config <file>", "campaign config", "examples/demo.campaign.json")
    .option("--state-dir <dir>", "where the dev server db, PGlite data and outputs go", ".toolloop/demo")
    .option("--output-dir <dir>", "where the campaign's outputs go, one folder per campaign (default: <state-dir>/output; replaces the config's output.dir)")
    .option("--latency-ms <n>", "simulated LLM latency", "20")
    .option(
      "--mistake-rate <p>",
      "how often the untrained simulated policy and tool agent make an argument mistake (verification and training have work)",
      "0.15",
    )
    .option(
      "--silent-mistake-rate <p>",
      "how often the simulated generator writes a label with a wrong value that rule verification cannot catch (what the judges repair)",
      "0.12",
    )
    .option("--judge-error-rate <p>", "how often a simulated judge's verdict is wrong", "0.1")
    .option("--keep-running", "leave the dev server and workers up after the campaign (Ctrl-C to stop)")
    .option("--worker-log-level <level>", "Temporal SDK log level of the in-process workers", "WARN")
    .action(async (opts: DemoOptions) => (await import("./demo.js")).runDemoCommand(opts));
}
