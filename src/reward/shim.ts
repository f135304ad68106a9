/**
 * The Python reward shim a GRPO job loads as verl's custom reward function: the template under
 * trainer/reward/ with this job's service URL and reward config filled in (see the template's
 * docstring for the entry points verl 0.9.1 calls).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rewardConfigSchema, type RewardConfig } from "./config.js";
import { canonicalJson, rewardConfigId } from "./configId.js";
import { writeFileAtomic } from "../util/atomicFiles.js";

/** The template, from the repository root (this file runs as dist/src/reward/shim.js). */
export const REWARD_SHIM_TEMPLATE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../trainer/reward/toolloop_reward_shim.py");

const PLACEHOLDERS = ['"__TOOLLOOP_SERVICE_URL__"', '"__TOOLLOOP_CONFIG_JSON__"', '"__TOOLLOOP_CONFIG_ID__"'] as const;

/** The shim's source for a URL and config (a JSON string literal is also a Python string literal). */
/** The file next to a shim that holds the hosting worker's current service URL (the shim re-reads it on every retry). */
export const REWARD_URL_FILE = "toolloop_reward_url";

export async function renderRewardShim(url: string, rewardConfig: RewardConfig): Promise<string> {
  if (!/^https?:\/\/[^\s"]+$/.test(url)) throw new Error(`reward shim: the service URL must be http(s)://host:port, got ${JSON.stringify(url)}`);
  const config = rewardConfigSchema.parse(rewardConfig);
  let source = await fs.readFile(REWARD_SHIM_TEMPLATE, "utf8");
  const values = [url, canonicalJson(config), rewardConfigId(config)];
  PLACEHOLDERS.forEach((placeholder, i) => {
    if (source.split(placeholder).length !== 2) throw new Error(`reward shim template ${REWARD_SHIM_TEMPLATE}: expected ${placeholder} exactly once`);
    source = source.replace(placeholder, () => JSON.stringify(values[i]));
  });
  return source;
}

/** Writes the shim for a job (atomically: a trainer starting meanwhile never reads half a file). */
export async function writeRewardShim(opts: { path: string; url: string; rewardConfig: RewardConfig }): Promise<void> {
  const source = await renderRewardShim(opts.url, opts.rewardConfig);
  await writeFileAtomic(opts.path, source, { mode: 0o644 });
}
