/**
 * The reward service: scores policy responses for a GRPO trainer over HTTP (node:http, JSON
 * bodies, keep-alive). Configs are registered once and named by their id; every score request
 * names one. Routes (shared/contracts):
 *   GET  /health              -> {"status":"ok","configs":N}
 *   POST /v1/configs          a RewardConfig -> {"config_id"}
 *   POST /v1/score            {config_id, data_source, solution_str, ground_truth, extra_info} -> RewardResult
 *   POST /v1/score/batch      {config_id, items:[...]} -> {"results":[RewardResult...]}  (also a packed form, see packedItems)
 * Limits: bodies over maxBodyBytes get 413, batches over maxBatchItems 400, requests beyond
 * maxConcurrentRequests 503 (retry later). Bad bodies get 400 naming the field; nothing a client
 * sends can crash the process.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { rewardConfigSchema, type RewardConfig, type RewardResult } from "./config.js";
import { rewardConfigId } from "./configId.js";
import { createRewardScorer, type RewardItem } from "./score.js";

export { rewardConfigId } from "./configId.js";

export interface RewardServiceOptions {
  host?: string;
  port?: number;
  /** Largest request body accepted (default 64 MiB: a batch of 1,024 samples with large tool lists fits many times). */
  maxBodyBytes?: number;
  /** Most samples in one batch request (default 16,384). */
  maxBatchItems?: number;
  /** Requests handled at once; more get 503 (default 64). Bounds the bodies held in memory. */
  maxConcurrentRequests?: number;
  /** Most configs kept; registering one more forgets the oldest (its clients re-register on 404). Default 1,024. */
  maxConfigs?: number;
  log?: (m: string) => void;
  configs?: RewardConfig[];
  /** Do not keep the process alive for this server (a worker hosting it for its jobs). */
  unref?: boolean;
}

export interface RewardService {
  url: string;
  registerConfig(c: RewardConfig): string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const badRequest = (message: string) => new HttpError(400, "bad_request", message);

function readBody(req: http.IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new HttpError(413, "body_too_large", `request body of ${declared} bytes exceeds the limit of ${maxBytes}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > maxBytes) {
        settled = true;
        reject(new HttpError(413, "body_too_large", `request body exceeds the limit of ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!settled) {
        settled = true;
        resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks, size).toString("utf8"));
      }
    });
    req.on("error", (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    // A client that goes away mid-body frees its slot.
    req.on("close", () => {
      if (!req.complete && !settled) reject(new HttpError(400, "bad_request", "body: the connection closed before the body ended"));
      settled = true;
    });
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`body: not valid JSON (${(err as Error).message})`);
  }
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw badRequest(`${what}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/** One sample of a score request; field types checked here, their contents by the scorer (bad ones score 0 with a reason). */
function scoreItem(v: unknown, where: string): RewardItem {
  const o = asObject(v, where);
  const prefix = where === "body" ? "" : `${where}.`;
  for (const field of ["data_source", "solution_str", "ground_truth"] as const) {
    if (typeof o[field] !== "string") throw badRequest(`${prefix}${field}: expected a string`);
  }
  return o as unknown as RewardItem;
}

/**
 * The packed batch (what the shim sends; the `items` form is the documented one): one column per
 * field, and the strings a GRPO group shares (its ground truth, its tools list) sent once, in a
 * table, with one index per sample. Serialising a list of per-sample objects, each repeating the
 * group's tools, was most of the Python side's time. Answered in columns too (reason "" when none).
 *   {config_id, solution_strs: [s], data_sources: [s], ground_truth_table: [s], ground_truth_index: [i],
 *    tools_table: [s|null], tools_index: [i]} -> {score: [], format: [], execution: [], reasoning: [], execution_correct: [], reason: []}
 */
function packedItems(body: Record<string, unknown>, maxItems: number): RewardItem[] {
  const column = (field: string, n?: number): unknown[] => {
    const v = body[field];
    if (!Array.isArray(v)) throw badRequest(`${field}: expected a list`);
    if (n !== undefined && v.length !== n) throw badRequest(`${field}: expected ${n} entries (one per solution_strs entry), got ${v.length}`);
    return v;
  };
  const solutions = column("solution_strs");
  const n = solutions.length;
  if (n > maxItems) throw badRequest(`solution_strs: ${n} samples exceed the limit of ${maxItems} per batch`);
  const sources = column("data_sources", n);
  const truths = column("ground_truth_table");
  const truthIndex = column("ground_truth_index", n);
  const toolsTable = column("tools_table");
  const toolsIndex = column("tools_index", n);
  const extras = toolsTable.map((t, k) => {
    if (t !== null && typeof t !== "string") throw badRequest(`tools_table[${k}]: expected a JSON string of the OpenAI tools list, or null`);
    return t === null ? null : { tools: t };
  });
  truths.forEach((t, k) => {
    if (typeof t !== "string") throw badRequest(`ground_truth_table[${k}]: expected a string`);
  });
  const items = new Array<RewardItem>(n);
  for (let i = 0; i < n; i++) {
    const solution = solutions[i];
    const source = sources[i];
    const g = truthIndex[i];
    const t = toolsIndex[i];
    if (typeof solution !== "string") throw badRequest(`solution_strs[${i}]: expected a string`);
    if (typeof source !== "string") throw badRequest(`data_sources[${i}]: expected a string`);
    if (typeof g !== "number" || !Number.isInteger(g) || g < 0 || g >= truths.length)
      throw badRequest(`ground_truth_index[${i}]: expected an index into ground_truth_table`);
    if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t >= extras.length) throw badRequest(`tools_index[${i}]: expected an index into tools_table`);
    items[i] = { data_source: source, solution_str: solution, ground_truth: truths[g] as string, extra_info: extras[t] };
  }
  return items;
}

function packedResults(results: RewardResult[]): string {
  const n = results.length;
  const score = new Array<number>(n);
  const format = new Array<number>(n);
  const execution = new Array<number>(n);
  const reasoning = new Array<number>(n);
  const correct = new Array<boolean>(n);
  const reason = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const r = results[i]!;
    score[i] = r.score;
    format[i] = r.format;
    execution[i] = r.execution;
    reasoning[i] = r.reasoning;
    correct[i] = r.execution_correct;
    reason[i] = r.reason ?? "";
  }
  return JSON.stringify({ score, format, execution, reasoning, execution_correct: correct, reason });
}

export async function startRewardService(opts: RewardServiceOptions = {}): Promise<RewardService> {
  const maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024 * 1024;
  const maxBatchItems = opts.maxBatchItems ?? 16_384;
  const maxConcurrent = opts.maxConcurrentRequests ?? 64;
  const maxConfigs = opts.maxConfigs ?? 1024;
  const log = opts.log ?? (() => undefined);
  const configs = new Map<string, RewardConfig>();

  const registerConfig = (c: RewardConfig): string => {
    const parsed = rewardConfigSchema.parse(c);
    const id = rewardConfigId(parsed);
    if (!configs.has(id)) {
      if (configs.size >= maxConfigs) configs.delete(configs.keys().next().value!);
      configs.set(id, parsed);
      log(`reward config ${id} registered (${parsed.kind}, ${parsed.template}, partial credit ${parsed.partialCredit})`);
    }
    return id;
  };
  for (const c of opts.configs ?? []) registerConfig(c);

  const configOf = (body: Record<string, unknown>): RewardConfig => {
    const id = body.config_id;
    if (typeof id !== "string") throw badRequest("config_id: expected a string (register the config at POST /v1/configs)");
    const config = configs.get(id);
    if (config === undefined)
      throw new HttpError(404, "unknown_config", `unknown config_id ${JSON.stringify(id.slice(0, 64))}: register it at POST /v1/configs`);
    return config;
  };

  const route = async (req: http.IncomingMessage): Promise<string> => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/health") {
      if (req.method !== "GET") throw new HttpError(405, "method_not_allowed", "GET /health");
      return JSON.stringify({ status: "ok", configs: configs.size });
    }
    if (path !== "/v1/configs" && path !== "/v1/score" && path !== "/v1/score/batch") throw new HttpError(404, "not_found", `no route ${path}`);
    if (req.method !== "POST") throw new HttpError(405, "method_not_allowed", `POST ${path}`);
    const body = asObject(parseJson(await readBody(req, maxBodyBytes)), "body");
    if (path === "/v1/configs") {
      const parsed = rewardConfigSchema.safeParse(body);
      if (!parsed.success) throw badRequest(parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "));
      return JSON.stringify({ config_id: registerConfig(parsed.data) });
    }
    const config = configOf(body);
    if (path === "/v1/score") return JSON.stringify(createRewardScorer(config)(scoreItem(body, "body")));
    const score = createRewardScorer(config);
    if (body.items === undefined && body.solution_strs !== undefined) {
      const packed = packedItems(body, maxBatchItems);
      const results = new Array<RewardResult>(packed.length);
      for (let i = 0; i < packed.length; i++) results[i] = score(packed[i]!);
      return packedResults(results);
    }
    const items = body.items;
    if (!Array.isArray(items)) throw badRequest("items: expected a list of samples");
    if (items.length > maxBatchItems) throw badRequest(`items: ${items.length} samples exceed the limit of ${maxBatchItems} per batch`);
    const checked = items.map((it, i) => scoreItem(it, `items[${i}]`));
    const results = new Array<unknown>(checked.length);
    for (let i = 0; i < checked.length; i++) results[i] = score(checked[i]!);
    return JSON.stringify({ results });
  };

  let inFlight = 0;
  const send = (res: http.ServerResponse, status: number, body: string, close = false) => {
    if (res.headersSent || res.destroyed) return;
    const headers: http.OutgoingHttpHeaders = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
    if (close) headers.connection = "close";
    if (status === 503) headers["retry-after"] = "1";
    res.writeHead(status, headers);
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    if (inFlight >= maxConcurrent) {
      req.resume();
      send(res, 503, JSON.stringify({ error: `busy: ${maxConcurrent} requests in flight`, code: "busy" }));
      return;
    }
    inFlight++;
    route(req)
      .then(
        (body) => send(res, 200, body),
        (err: unknown) => {
          if (err instanceof HttpError) {
            // An oversized body is not read to its end: the connection closes after the answer.
            send(res, err.status, JSON.stringify({ error: err.message, code: err.code }), err.status === 413);
            if (err.status === 413) req.resume();
            return;
          }
          log(`reward service: request settled: ${err instanceof Error ? err.message : String(err)}`);
          send(res, 500, JSON.stringify({ error: "internal error", code: "internal" }), true);
        },
      )
      .finally(() => {
        inFlight--;
      });
  });
  // Trainers keep connections open between steps; Node's 5 s default would make them reconnect.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.requestTimeout = 300_000;
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  if (opts.unref) server.unref();
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  log(`reward service listening on ${url}`);
  return {
    url,
    registerConfig,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
