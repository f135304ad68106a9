/**
 * A TCP connection to an endpoint's host and port, opened and closed again, within a deadline.
 * Node's fetch exposes no connect timeout of its own, so before a request to an endpoint that has
 * not answered yet (or has stopped answering) the client checks it can connect at all: a dead host
 * is told apart from a server that accepts and never answers, and neither waits for the whole
 * request timeout. Endpoints that answer are not probed.
 */
import net from "node:net";
import { abortSetOf, type Abortable } from "../util/abortSet.js";

export class ConnectProbeError extends Error {
  override name = "ConnectProbeError";
  constructor(
    message: string,
    readonly reason: "refused" | "timeout" | "error",
  ) {
    super(message);
  }
}

/** The host and port a base URL connects to (default ports by scheme). */
export function hostPortOf(baseUrl: string): { host: string; port: number } {
  const url = new URL(baseUrl);
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  // URL keeps IPv6 literals bracketed; net.connect wants them bare.
  return { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port };
}

export function probeConnect(baseUrl: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const { host, port } = hostPortOf(baseUrl);
  return new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host, port });
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (signal) abortSetOf(signal).delete(member);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    // A member of the signal's AbortSet, not a listener of its own: every request of a batch that
    // starts before the endpoint has answered probes it, on the batch's one signal.
    const member: Abortable = { abort: (reason) => finish(reason instanceof Error ? reason : new Error("aborted")) };
    const timer = setTimeout(
      () => finish(new ConnectProbeError(`no TCP connection to ${host}:${port} within ${timeoutMs} ms (connectTimeoutMs)`, "timeout")),
      timeoutMs,
    );
    if (signal && !abortSetOf(signal).add(member)) member.abort(signal.reason);
    socket.once("connect", () => finish());
    socket.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED") finish(new ConnectProbeError(`connection refused by ${host}:${port}`, "refused"));
      else finish(new ConnectProbeError(`cannot connect to ${host}:${port}: ${err.code ?? err.message}`, "error"));
    });
  });
}
