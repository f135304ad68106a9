/** `toolloop reward serve`: the reward service GRPO jobs call through their generated Python shim. */
import type { Command } from "commander";
import type { z } from "zod";
import { rewardConfigSchema, type RewardConfig } from "../reward/config.js";
import { startRewardService } from "../reward/service.js";
import { JsonFileError, readJsonFileSync } from "../util/jsonFile.js";
import { describeListenFailure, hostProblem } from "../util/listenAddress.js";
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from "./errors.js";
import { integerFromTo } from "./options.js";

/** A reward config (or a list of them) is a few hundred bytes; the bound keeps /dev/zero from filling memory. */
export const REWARD_CONFIG_MAX_BYTES = 1024 * 1024;
const REWARD_CONFIG_FIELDS = Object.keys(rewardConfigSchema.shape);

const collect = (value: string, previous: string[]) => [...previous, value];

/** One issue as a line; unknown keys are listed (at the top level with the fields a reward config has). */
function describeIssue(issue: z.core.$ZodIssue, where: string, raw: unknown): string {
  const field = `${where}${issue.path.join(".") || "(config)"}`;
  if (issue.code !== "unrecognized_keys") return `${field}: ${issue.message}`;
  const keys = issue.keys.slice(0, 8).map((k) => JSON.stringify(k));
  const more = issue.keys.length > 8 ? ` and ${issue.keys.length - 8} more` : "";
  const unknown = `${field}: unknown field${issue.keys.length === 1 ? "" : "s"} ${keys.join(", ")}${more}`;
  if (issue.path.length > 0) return unknown;
  const campaign = typeof raw === "object" && raw !== null && "stages" in raw;
  return (
    `${unknown}; this must be a reward config (fields: ${REWARD_CONFIG_FIELDS.join(", ")})` +
    (campaign ? `; this looks like a campaign config: give its train.grpo stage's "reward" object as a file of its own` : "")
  );
}

/** A config file: one RewardConfig or a list of them; errors name --config, the file and the field. */
function readRewardConfigs(file: string): RewardConfig[] {
  let raw: unknown;
  try {
    raw = readJsonFileSync(file, { maxBytes: REWARD_CONFIG_MAX_BYTES, what: "a reward config file" });
  } catch (err) {
    if (!(err instanceof JsonFileError)) throw err;
    throw new CliError(`--config: ${err.message}`, EXIT_BAD_INPUT, { cause: err });
  }
  return (Array.isArray(raw) ? raw : [raw]).map((c: unknown, i) => {
    const parsed = rewardConfigSchema.safeParse(c);
    if (!parsed.success) {
      const where = Array.isArray(raw) ? `[${i}].` : "";
      throw new CliError(`--config ${file}: ${parsed.error.issues.map((x) => describeIssue(x, where, c)).join("; ")}`);
    }
    return parsed.data;
  });
}

export function registerRewardCommands(program: Command): void {
  const reward = program.command("reward").description("the reward service for GRPO training");
  reward
    .command("serve")
    .description("serve rewards over HTTP (GET /health, POST /v1/configs, /v1/score, /v1/score/batch) until SIGINT/SIGTERM")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--port <port>", "port to bind (0: any free port)", "8900")
    .option("--config <file>", "a reward config JSON file (one config or a list) to register at start; repeatable", collect, [] as string[])
    .option("--max-body-bytes <n>", "largest request body accepted", String(64 * 1024 * 1024))
    .option("--max-batch-items <n>", "most samples in one batch request", "16384")
    .action(async (opts: { host: string; port: string; config: string[]; maxBodyBytes: string; maxBatchItems: string }) => {
      const problem = hostProblem(opts.host);
      if (problem) throw new CliError(`--host: ${problem}`);
      const port = integerFromTo("--port", opts.port, 0, 65535);
      const maxBodyBytes = integerFromTo("--max-body-bytes", opts.maxBodyBytes, 1, 2 ** 31 - 1);
      const maxBatchItems = integerFromTo("--max-batch-items", opts.maxBatchItems, 1, 1_000_000);
      const configs = opts.config.flatMap(readRewardConfigs);
      const service = await startRewardService({
        host: opts.host,
        port,
        maxBodyBytes,
        maxBatchItems,
        configs,
        log: (m) => console.error(`[reward] ${m}`),
      }).catch((err: unknown) => {
        const failure = describeListenFailure(err, opts.host, port);
        throw new CliError(failure.message, failure.badInput ? EXIT_BAD_INPUT : EXIT_ENVIRONMENT);
      });
      console.log(service.url);
      for (const c of configs) console.log(`config ${service.registerConfig(c)}`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          console.error(`[reward] ${signal}: closing`);
          resolve();
        };
        process.once("SIGINT", () => stop("SIGINT"));
        process.once("SIGTERM", () => stop("SIGTERM"));
      });
      await service.close();
    });
}
