/** `toolloop reward serve`: the reward service GRPO jobs call through their generated Python shim. */
import fs from "node:fs";
import type { Command } from "commander";
import { rewardConfigSchema, type RewardConfig } from "../reward/config.js";
import { startRewardService } from "../reward/service.js";
import { CliError } from "./errors.js";

const collect = (value: string, previous: string[]) => [...previous, value];

function positiveIntOption(name: string, raw: string, max: number, min = 1): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** A config file: one RewardConfig or a list of them; errors name the file and the field. */
function readRewardConfigs(file: string): RewardConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new CliError(`--config ${file}: ${(err as Error).message}`);
  }
  return (Array.isArray(raw) ? raw : [raw]).map((c, i) => {
    const parsed = rewardConfigSchema.safeParse(c);
    if (!parsed.success) {
      const where = Array.isArray(raw) ? `[${i}].` : "";
      throw new CliError(`--config ${file}: ${parsed.error.issues.map((x) => `${where}${x.path.join(".") || "(config)"}: ${x.message}`).join("; ")}`);
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
      const configs = opts.config.flatMap(readRewardConfigs);
      const service = await startRewardService({
        host: opts.host,
        port: positiveIntOption("--port", opts.port, 65535, 0),
        maxBodyBytes: positiveIntOption("--max-body-bytes", opts.maxBodyBytes, 2 ** 31 - 1),
        maxBatchItems: positiveIntOption("--max-batch-items", opts.maxBatchItems, 1_000_000),
        configs,
        log: (m) => console.error(`[reward] ${m}`),
      }).catch((err: unknown) => {
        throw new CliError(`cannot listen on ${opts.host}:${opts.port}: ${(err as Error).message}`, 1);
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
