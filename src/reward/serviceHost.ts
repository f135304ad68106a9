/**
 * The reward services a worker with the cluster role hosts for the jobs it launches: one HTTP
 * service per bind address, started on first use and shared by every job and reward config (the
 * shim names its config by id). The servers are unref'd: they serve while the worker lives and never
 * keep a finished process alive.
 */
import type { RewardConfig } from "./config.js";
import { startRewardService } from "./service.js";

export interface RewardServiceHost {
  /** The base URL of the service bound at `bind`, with `config` registered. */
  urlFor(config: RewardConfig, bind: { host: string; port: number }): Promise<string>;
  close(): Promise<void>;
}

export function createRewardServiceHost(log: (m: string) => void): RewardServiceHost {
  const services = new Map<string, ReturnType<typeof startRewardService>>();
  return {
    async urlFor(config, bind) {
      const key = `${bind.host}:${bind.port}`;
      let started = services.get(key);
      if (!started) {
        started = startRewardService({ host: bind.host, port: bind.port, log, unref: true });
        services.set(key, started);
        // A failed start (port taken) is not cached: the next job tries again.
        started.catch(() => services.delete(key));
      }
      const service = await started;
      service.registerConfig(config);
      return service.url;
    },
    async close() {
      const all = [...services.values()];
      services.clear();
      await Promise.allSettled(all.map(async (s) => (await s).close()));
    },
  };
}
