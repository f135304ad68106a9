/**
 * The address a server we start binds (`--host`, `--port` of `toolloop reward serve` and the LLM
 * simulator): a host checked before listening, and listen failures as one line naming the flag,
 * split into bad input (a value to change: a host not this machine's) and the environment (a port in use).
 */
import net from "node:net";

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/**
 * Why `host` cannot be a bind address, or undefined when it can be: an IPv4 or IPv6 literal, or a
 * host name (labels of letters, digits, '-' and '_', which container names use). Dotted numbers that
 * are not an IPv4 address ("999.1.1.1") are refused here: node would look them up as a name and
 * fail only at listen time, as if the network were at fault.
 */
export function hostProblem(host: string): string | undefined {
  if (net.isIP(host) !== 0) return undefined;
  const shown = JSON.stringify(host.length > 64 ? `${host.slice(0, 64)}…` : host);
  if (host.includes(":")) return `${shown} is not a valid IPv6 address (write it without brackets)`;
  if (/^[0-9.]+$/.test(host)) return `${shown} is not a valid IPv4 address`;
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253 || !name.split(".").every((l) => HOST_LABEL.test(l))) return `${shown} is not an IP address or host name`;
  return undefined;
}

export interface ListenFailure {
  message: string;
  /** True when the flag's value is what to change (exit 2); false for the machine's state (exit 1). */
  badInput: boolean;
}

/** One line for an error from listen(port, host), naming the flag the person can change. */
export function describeListenFailure(err: unknown, host: string, port: number): ListenFailure {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "EADDRINUSE":
      return { message: `--port ${port}: already in use on ${host} (EADDRINUSE); pick another port, or 0 for any free one`, badInput: false };
    case "EACCES":
      return { message: `--port ${port}: not allowed to listen on it at ${host} (EACCES; ports below 1024 need privileges)`, badInput: false };
    case "EADDRNOTAVAIL":
      // A well-formed address that is not this machine's: the flag is what to change (use 127.0.0.1,
      // or 0.0.0.0 for every interface), so bad input, as `report serve` says it too.
      return { message: `--host ${host}: not an address of this machine (EADDRNOTAVAIL)`, badInput: true };
    case "ENOTFOUND":
      return { message: `--host ${host}: host name not found (ENOTFOUND)`, badInput: true };
    case "EAI_AGAIN":
      return { message: `--host ${host}: host name lookup failed (EAI_AGAIN); try again or give an IP address`, badInput: false };
    default:
      return { message: `cannot listen on ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`, badInput: false };
  }
}
