/**
 * A stage that stopped because an LLM endpoint did not answer (EndpointUnavailable) waits for an
 * operator, but a server restarted in a few seconds (a crashed vLLM brought back by its supervisor,
 * a node rebooted) should not need one: while the stage waits, its endpoints are asked
 * `GET /models` every few seconds, and once every one of them answers the iteration retries the
 * stage by itself. The operator's retry, skip or abort still decides first if given.
 *
 * Watched: the endpoints the stage's roles resolve to, the policy a campaign serves itself included:
 * a served policy whose server ended by itself is restarted meanwhile (src/training/servedPolicyRevival.ts).
 */
import type { CampaignConfig } from "../config/campaignConfig.js";
import { endpointNeeds, fetchServedModels, type EndpointNeed } from "./endpointCheck.js";

/** How often a waiting stage's endpoints are asked whether they answer again. */
export const ENDPOINT_RECOVERY_POLL_MS = 5_000;

/**
 * The endpoints stage `stage` of the config calls (by its roles); none when the stage is not in the
 * config. Taken from the stage alone, so its policy role is watched at whatever the config names:
 * the activities bind it to the model the loop served (a server `toolloop model restart` brings
 * back then retries the stage by itself too).
 */
export function stageEndpointNeeds(config: CampaignConfig, stage: string, env?: NodeJS.ProcessEnv): EndpointNeed[] {
  const entry = config.stages.find((s) => s.name === stage);
  if (!entry) return [];
  return endpointNeeds({ ...config, stages: [entry] }, { env }).needs;
}

export interface EndpointRound {
  /** One line per endpoint that does not answer yet ("sim (http://...): connection refused"). */
  silent: string[];
  /** The base URLs of those endpoints. */
  silentUrls: string[];
}

/**
 * Asks every endpoint `GET /models` until all answer in one round (then returns true), or until
 * `signal` aborts (returns false). `needs` is asked anew each round (a restarted server may answer at
 * another URL); `onRound` hears each round's outcome (heartbeat it, or act on it: the next round
 * waits for it).
 */
export async function waitUntilEndpointsAnswer(
  needs: readonly EndpointNeed[] | (() => readonly EndpointNeed[]),
  opts: { signal: AbortSignal; pollMs?: number; timeoutMs?: number; onRound?: (r: EndpointRound) => void | Promise<void> },
): Promise<boolean> {
  const pollMs = opts.pollMs ?? ENDPOINT_RECOVERY_POLL_MS;
  while (!opts.signal.aborted) {
    const round = typeof needs === "function" ? needs() : needs;
    const answers = await Promise.all(round.map((n) => fetchServedModels(n.baseUrl, { apiKey: n.apiKey, timeoutMs: opts.timeoutMs })));
    const silentNeeds = round.filter((_, i) => !answers[i]!.ok);
    const silent = answers.flatMap((a, i) => (a.ok ? [] : [`${round[i]!.endpoint} (${round[i]!.baseUrl}): ${a.problem}`]));
    await opts.onRound?.({ silent, silentUrls: silentNeeds.map((n) => n.baseUrl) });
    if (silent.length === 0) return true;
    if (opts.signal.aborted) break;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        opts.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      opts.signal.addEventListener("abort", done, { once: true });
    });
  }
  return false;
}
