/**
 * How a response says it came from the toolloop LLM simulator (src/llm/simulator): the header
 * `x-toolloop-simulator: 1` on every route, and `system_fingerprint` "toolloop-simulator" (or the
 * stand-in checkpoint's "toolloop-simulator+...") in completions. vLLM sends a build string or null
 * there and never this header, so a real model is never taken for the simulator.
 */
export const SIMULATOR_HEADER = "x-toolloop-simulator";
export const SIMULATOR_FINGERPRINT = "toolloop-simulator";
/**
 * Set by the simulator on an answer its HTTP fault spoiled (`malformedJson`: the body cut short), naming
 * the fault; a spoiled body cannot say so itself. Read only from a response with the simulator's header.
 */
export const SIMULATOR_FAULT_HEADER = "x-toolloop-simulator-fault";

/**
 * Where the simulator's chat completion says why its scripted tool server (src/llm/simulator/dialogue/
 * toolServer.ts) answered with an error: `asked` (the engine's injected fault), `rules` (the call broke
 * its tool's rules) or `fault` (its own random faults). A top-level field of the completion body, beside
 * the answer, never in it: the answer stays what a tool server would say. Read only from a response
 * that carries the simulator's mark.
 */
export const SIMULATOR_TOOL_SERVER_ERROR_FIELD = "toolloop_tool_server_error";
export const SIMULATED_TOOL_SERVER_ERRORS = ["asked", "rules", "fault"] as const;
export type SimulatedToolServerError = (typeof SIMULATED_TOOL_SERVER_ERRORS)[number];

/** True when the response (headers and, for completions, the parsed body) carries the simulator's mark. */
export function isSimulatorResponse(headers: { get(name: string): string | null } | undefined, body: unknown): boolean {
  if (headers?.get(SIMULATOR_HEADER) === "1") return true;
  const fingerprint = body !== null && typeof body === "object" ? (body as { system_fingerprint?: unknown }).system_fingerprint : undefined;
  return typeof fingerprint === "string" && (fingerprint === SIMULATOR_FINGERPRINT || fingerprint.startsWith(`${SIMULATOR_FINGERPRINT}+`));
}
