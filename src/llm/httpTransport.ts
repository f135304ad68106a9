/**
 * The LLM client's HTTP transport: `node:http`/`node:https` over one keep-alive agent per origin,
 * shared by every client of the process. It only moves bytes: a POST of a ready JSON body, the
 * status, headers and body text back, and a way to cancel. Retries, deadlines, error classification
 * and token accounting belong to the client (src/llm/client.ts), so they are ours whichever server
 * answers. Measured against the `openai` SDK over `fetch` on the same requests, this costs a
 * fraction of the CPU per request (bench/synthesisThroughput.ts), which is what lets one worker keep
 * a large deployment busy.
 */
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import https from "node:https";

/** What retryAfterMs and isSimulatorResponse read: a header by (lower-case) name. */
export interface HeaderReader {
  get(name: string): string | null;
}

export interface TransportResponse {
  status: number;
  headers: HeaderReader;
  text: string;
}

/** One POST on its way. `cancel` destroys its socket; `response` then rejects with `reason`. */
export interface PendingPost {
  readonly response: Promise<TransportResponse>;
  cancel(reason: Error): void;
}

/** A failure of the exchange itself (no connection, connection broken), with Node's error code. */
export class TransportError extends Error {
  override name = "TransportError";
  constructor(
    message: string,
    readonly code: string | undefined,
    /** The response headers had arrived when it broke (the body was cut off). */
    readonly headersReceived: boolean,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

class NodeHeaders implements HeaderReader {
  constructor(private readonly raw: IncomingHttpHeaders) {}
  get(name: string): string | null {
    const v = this.raw[name.toLowerCase()];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(", ") : v;
  }
}

interface Target {
  module: typeof http | typeof https;
  agent: http.Agent;
  hostname: string;
  port: number;
  path: string;
}

const agents = new Map<string, http.Agent>();

/**
 * How many times one request is sent again after finding its kept-alive socket closed by the server.
 * More than one: after an idle spell every pooled socket may be stale at once, and each resend can draw
 * another of them before their closes arrive.
 */
const MAX_STALE_SOCKET_RESENDS = 4;

/** The keep-alive agent of an origin. Sockets are not capped here: the endpoint limiter caps requests. */
function agentFor(url: URL): http.Agent {
  let agent = agents.get(url.origin);
  if (!agent) {
    // Idle sockets are kept however many there are (Node's default keeps 256 and closes the rest):
    // their number is bounded by the endpoint limiter, and a worker running hundreds of requests
    // would otherwise close and reopen connections each time its load dips.
    const opts = { keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: Number.POSITIVE_INFINITY, scheduling: "lifo" as const };
    agent = url.protocol === "https:" ? new https.Agent(opts) : new http.Agent(opts);
    agents.set(url.origin, agent);
  }
  return agent;
}

export class HttpTransport {
  private readonly base: URL;
  private readonly targets = new Map<string, Target>();

  constructor(baseUrl: string) {
    this.base = new URL(baseUrl.replace(/\/+$/, ""));
    if (this.base.protocol !== "http:" && this.base.protocol !== "https:") throw new Error(`HttpTransport: ${baseUrl} is not an http(s) URL`);
  }

  /**
   * POSTs `body` to `pathOrUrl`: a path under the base URL (`/chat/completions`) or an absolute
   * URL. `onHeaders` runs when the response headers arrive, before the body is read. The body is
   * bytes, encoded once by the caller for every attempt: a string body would be measured, joined
   * to the request head and encoded again on each send.
   */
  post(pathOrUrl: string, body: Buffer, headers: OutgoingHttpHeaders, onHeaders?: () => void): PendingPost {
    const t = this.target(pathOrUrl);
    let req: http.ClientRequest | undefined;
    let cancelled: Error | undefined;
    const response = new Promise<TransportResponse>((resolve, reject) => {
      let settled = false;
      let headersReceived = false;
      let resends = 0;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        if (cancelled) reject(cancelled);
        else {
          const e = err as NodeJS.ErrnoException;
          reject(new TransportError(e instanceof Error ? e.message : String(e), e.code, headersReceived, err));
        }
      };
      const send = (): void => {
        const sent = t.module.request({
          agent: t.agent,
          hostname: t.hostname,
          port: t.port,
          path: t.path,
          method: "POST",
          headers: { ...headers, "content-length": body.length },
        });
        req = sent;
        sent.once("error", (err: NodeJS.ErrnoException) => {
          // A kept-alive socket the server closed while idle (uvicorn's and Node's keep-alive timeout is
          // 5 s) can be handed out just before its close arrives: the request then fails with ECONNRESET
          // or EPIPE before any answer, and the server never read it. Sent again at once on another
          // socket, not as one of the caller's retries (Node's documented remedy, bounded here).
          if (
            !settled &&
            !cancelled &&
            !headersReceived &&
            sent.reusedSocket &&
            (err.code === "ECONNRESET" || err.code === "EPIPE") &&
            resends < MAX_STALE_SOCKET_RESENDS
          ) {
            resends++;
            send();
            return;
          }
          fail(err);
        });
        sent.once("response", (res) => {
          headersReceived = true;
          onHeaders?.();
          res.setEncoding("utf8");
          let text = "";
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.once("error", fail);
          res.once("aborted", () => fail(Object.assign(new Error("response body cut off"), { code: "ECONNRESET" })));
          res.once("end", () => {
            if (settled) return;
            settled = true;
            resolve({ status: res.statusCode ?? 0, headers: new NodeHeaders(res.headers), text });
          });
          // A destroyed socket after the headers ends the response with "close" but maybe no "end".
          res.once("close", () => {
            if (!res.complete) fail(Object.assign(new Error("response body cut off"), { code: "ECONNRESET" }));
          });
        });
        sent.end(body);
      };
      send();
    });
    return {
      response,
      cancel(reason: Error): void {
        if (cancelled) return;
        cancelled = reason;
        req?.destroy(reason);
      },
    };
  }

  private target(pathOrUrl: string): Target {
    let t = this.targets.get(pathOrUrl);
    if (!t) {
      const url = /^https?:\/\//.test(pathOrUrl) ? new URL(pathOrUrl) : new URL(this.base.href + pathOrUrl);
      t = {
        module: url.protocol === "https:" ? https : http,
        agent: agentFor(url),
        // URL keeps IPv6 literals bracketed; http.request wants them bare.
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80,
        path: url.pathname + url.search,
      };
      this.targets.set(pathOrUrl, t);
    }
    return t;
  }
}
