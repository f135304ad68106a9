/**
 * How a response says it came from the toolloop LLM simulator (src/llm/simulator): the header
 * `x-toolloop-simulator: 1` on every route, and `system_fingerprint` "toolloop-simulator" (or the
 * stand-in checkpoint's "toolloop-simulator+...") in completions. vLLM sends a build string or null
 * there and never this header, so a real model is never taken for the simulator.
 */
export const SIMULATOR_HEADER = "x-toolloop-simulator";
export const SIMULATOR_FINGERPRINT = "toolloop-simulator";

/** True when the response (headers and, for completions, the parsed body) carries the simulator's mark. */
export function isSimulatorResponse(headers: { get(name: string): string | null } | undefined, body: unknown): boolean {
  if (headers?.get(SIMULATOR_HEADER) === "1") return true;
  const fingerprint = body !== null && typeof body === "object" ? (body as { system_fingerprint?: unknown }).system_fingerprint : undefined;
  return typeof fingerprint === "string" && (fingerprint === SIMULATOR_FINGERPRINT || fingerprint.startsWith(`${SIMULATOR_FINGERPRINT}+`));
}
