/**
 * `toolloop report serve`: a small HTTP server on 127.0.0.1 that builds a campaign's reports fresh
 * on every request, at the same relative paths the written files have (report.html,
 * iter-N/report.html), so the links between them work both from disk and served.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Db } from "../db/client.js";
import { REPORT_FILE } from "../output/layout.js";
import { buildReportHtml } from "./build.js";
import { UnknownCampaignError } from "./data.js";

export interface ReportServer {
  url: string;
  close(): Promise<void>;
}

/** Which report a request path names: the campaign's (`/`, `/report.html`) or an iteration's (`/iter-N/report.html`); undefined otherwise. */
export function reportForPath(pathname: string): { iteration?: number } | undefined {
  if (pathname === "/" || pathname === `/${REPORT_FILE}`) return {};
  const m = /^\/iter-(\d{1,6})\/(?:report\.html)?$/.exec(pathname);
  return m ? { iteration: Number(m[1]) } : undefined;
}

export async function startReportServer(db: Db, campaignId: string, opts: { port: number; host?: string; log?: (m: string) => void }): Promise<ReportServer> {
  const log = opts.log ?? (() => undefined);
  const server = http.createServer((req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? "/", "http://localhost");
    const which = req.method === "GET" || req.method === "HEAD" ? reportForPath(url.pathname) : undefined;
    const reply = (status: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
      log(`${req.method} ${url.pathname} ${status} (${Date.now() - started} ms)`);
    };
    if (url.pathname === "/favicon.ico") return reply(204, "");
    if (!which) return reply(404, `not found: ${url.pathname} (reports are at /${REPORT_FILE} and /iter-N/${REPORT_FILE})\n`);
    buildReportHtml(db, { campaignId, ...which }).then(
      (html) => reply(200, html, "text/html; charset=utf-8"),
      (err: unknown) => reply(err instanceof UnknownCampaignError ? 404 : 500, `${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/${REPORT_FILE}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
