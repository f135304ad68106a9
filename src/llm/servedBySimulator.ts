/**
 * Whether an OpenAI-compatible endpoint is the toolloop LLM simulator, for results produced by a
 * program that talks to the endpoint itself (bfcl-eval) and so never shows us the simulator's mark
 * on its answers. The simulator marks every route (src/llm/simulatorMark.ts); `GET <baseUrl>/models`
 * is the cheapest one and vLLM serves it too.
 */
import { isSimulatorResponse } from "./simulatorMark.js";

const CHECK_TIMEOUT_MS = 10_000;

/** true or false from the endpoint's answer; undefined when it could not be asked (down, timed out). */
export async function servedBySimulator(
  baseUrl: string,
  opts: { apiKey?: string; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<boolean | undefined> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? CHECK_TIMEOUT_MS);
  try {
    const response = await fetch(`${baseUrl.replace(/\/+$/, "")}/models`, {
      headers: opts.apiKey ? { Authorization: `Bearer ${opts.apiKey}` } : {},
      signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout,
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return isSimulatorResponse(response.headers, body);
  } catch {
    return undefined;
  }
}
