/**
 * A port file: one port number written by a server that picked its own port (serve.policy with port
 * 0), read by whoever has to reach it. Shared by the writer's restart (the LLM simulator takes the
 * port again when it is free) and the readers (readiness, the recorded URL, `model restart`).
 */

/** The port a port file's text names, or undefined when it names none. */
export function portFromText(text: string): number | undefined {
  const t = text.trim();
  const n = Number(t);
  return /^\d+$/.test(t) && n > 0 && n < 65536 ? n : undefined;
}
