/**
 * Before a campaign starts: every endpoint its stages will call answers `GET <baseUrl>/models` and
 * serves the model each role asks of it. A wrong URL, a server that is down or a model name typo
 * then stops `campaign start` with a message naming the endpoint, the roles, the URL and what was
 * wrong, instead of failing the first stage minutes later.
 */
import type { CampaignConfig } from "../config/campaignConfig.js";
import type { AnyStageSpec } from "../framework/stageSpec.js";
import { STAGE_SPECS } from "../stages/specs.js";
import { resolveRole, RoleResolutionError } from "./roles.js";

/** What one endpoint must serve: the roles using it and the model each asks for. */
export interface EndpointNeed {
  endpoint: string;
  baseUrl: string;
  apiKey?: string;
  roles: { role: string; model: string; stages: string[] }[];
}

export type EndpointAnswer = { ok: true; models: string[] } | { ok: false; problem: string };

export interface EndpointCheckResult {
  need: EndpointNeed;
  answer: EndpointAnswer;
  /** One line per role whose model is not served (empty when the endpoint did not answer). */
  missingModels: string[];
}

export class EndpointCheckError extends Error {
  override name = "EndpointCheckError";
  constructor(
    message: string,
    readonly results: EndpointCheckResult[],
  ) {
    super(message);
  }
}

/** How long one endpoint may take to answer `/models` (connect included). */
export const ENDPOINT_CHECK_TIMEOUT_MS = 10_000;

/**
 * The endpoints the config's stages call and what each must serve. The policy role of a stage that
 * runs on a model toolloop serves itself (after `serve.policy`, or only from the second iteration of
 * a campaign that serves one) is left out: that endpoint does not exist until the stage serves it.
 */
export function endpointNeeds(
  config: CampaignConfig,
  opts: { env?: NodeJS.ProcessEnv; specs?: readonly AnyStageSpec[] } = {},
): { needs: EndpointNeed[]; notChecked: string[] } {
  const specs = opts.specs ?? STAGE_SPECS;
  const names = config.stages.map((s) => s.name);
  const serveAt = names.indexOf("serve.policy");
  const byEndpoint = new Map<string, EndpointNeed>();
  const notChecked: string[] = [];
  config.stages.forEach((stage, i) => {
    const spec = specs.find((s) => s.name === stage.name);
    if (!spec) return;
    const roles = [...spec.roles, ...(spec.configuredRoles?.(stage) ?? []).map((r) => r.role)];
    for (const role of new Set(roles)) {
      const runIn = (stage as { runIn?: string }).runIn;
      if (role === "policy" && serveAt >= 0 && (i > serveAt || runIn === "later")) {
        notChecked.push(`${role} for ${stage.name}`);
        continue;
      }
      let resolved;
      try {
        resolved = resolveRole(config, role, opts.env);
      } catch (err) {
        if (err instanceof RoleResolutionError) throw new EndpointCheckError(`${stage.name}: ${err.message}`, []);
        throw err;
      }
      const need = byEndpoint.get(resolved.endpointName) ?? {
        endpoint: resolved.endpointName,
        baseUrl: resolved.endpoint.baseUrl,
        ...(resolved.apiKey !== undefined ? { apiKey: resolved.apiKey } : {}),
        roles: [],
      };
      byEndpoint.set(resolved.endpointName, need);
      const entry = need.roles.find((r) => r.role === role);
      if (entry) entry.stages.push(stage.name);
      else need.roles.push({ role, model: resolved.roleConfig.model, stages: [stage.name] });
    }
  });
  return { needs: [...byEndpoint.values()], notChecked };
}

/** `GET <baseUrl>/models`: the served model ids, or what was wrong in words. */
export async function fetchServedModels(baseUrl: string, opts: { apiKey?: string; timeoutMs?: number } = {}): Promise<EndpointAnswer> {
  const timeoutMs = opts.timeoutMs ?? ENDPOINT_CHECK_TIMEOUT_MS;
  const url = `${baseUrl.replace(/\/+$/, "")}/models`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: opts.apiKey ? { Authorization: `Bearer ${opts.apiKey}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return { ok: false, problem: fetchProblem(err, timeoutMs) };
  }
  let text: string;
  try {
    text = await response.text();
  } catch (err) {
    return { ok: false, problem: `HTTP ${response.status}, then the body could not be read: ${fetchProblem(err, timeoutMs)}` };
  }
  if (!response.ok) return { ok: false, problem: `HTTP ${response.status}${text.trim() ? `: ${preview(text)}` : ""}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: `HTTP ${response.status} but the body is not JSON: ${preview(text)}` };
  }
  const data = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return { ok: false, problem: `the body has no "data" list of models (not an OpenAI-compatible /models answer): ${preview(text)}` };
  const models = data.map((m) => (m as { id?: unknown } | null)?.id).filter((id): id is string => typeof id === "string");
  return { ok: true, models };
}

/** Checks every needed endpoint (in parallel) and throws one EndpointCheckError listing every problem. */
export async function checkCampaignEndpoints(
  config: CampaignConfig,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<EndpointCheckResult[]> {
  const { needs, notChecked } = endpointNeeds(config, { env: opts.env });
  const results = await Promise.all(
    needs.map(async (need): Promise<EndpointCheckResult> => {
      const answer = await fetchServedModels(need.baseUrl, { apiKey: need.apiKey, timeoutMs: opts.timeoutMs });
      return { need, answer, missingModels: answer.ok ? missingModels(need, answer.models) : [] };
    }),
  );
  const problems = results.flatMap(describeProblems);
  if (problems.length > 0) {
    throw new EndpointCheckError(
      `endpoint check failed (rerun with --skip-endpoint-check to start anyway):\n${problems.map((p) => `  ${p}`).join("\n")}`,
      results,
    );
  }
  for (const r of results) {
    opts.log?.(`endpoint ${r.need.endpoint} (${r.need.baseUrl}): serves ${r.need.roles.map((x) => `${x.model} for ${x.role}`).join(", ")}`);
  }
  if (notChecked.length > 0) opts.log?.(`endpoint check: not checked (served by serve.policy at run time): ${notChecked.join(", ")}`);
  return results;
}

function missingModels(need: EndpointNeed, served: string[]): string[] {
  return need.roles
    .filter((r) => !served.includes(r.model))
    .map(
      (r) =>
        `endpoint ${need.endpoint} (${need.baseUrl}) does not serve model ${JSON.stringify(r.model)} for role ${r.role} (roles.${r.role}.model; used by ${r.stages.join(", ")}); ` +
        `it serves: ${served.length > 0 ? served.map((m) => JSON.stringify(m)).join(", ") : "(no models)"}`,
    );
}

/** Message lines for one endpoint's result (none when it is fine). */
export function describeProblems(r: EndpointCheckResult): string[] {
  if (!r.answer.ok) {
    const roles = r.need.roles.map((x) => x.role).join(", ");
    return [`endpoint ${r.need.endpoint} (roles ${roles}) at ${r.need.baseUrl}: GET /models failed: ${r.answer.problem}`];
  }
  return r.missingModels;
}

function fetchProblem(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return `no answer within ${timeoutMs} ms (timeout)`;
  const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
  const code = cause?.code;
  const words: Record<string, string> = {
    ECONNREFUSED: "connection refused (is the server running on that port?)",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host name lookup failed",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    ECONNRESET: "connection reset by the server",
    UND_ERR_CONNECT_TIMEOUT: "connect timeout",
    UND_ERR_SOCKET: "the server closed the connection",
  };
  if (code && words[code]) return words[code];
  if (code) return `${code}${cause?.message ? ` (${cause.message})` : ""}`;
  // fetch refuses ports on the WHATWG "bad ports" list (1, 22, 25, 6000, ...) without trying them.
  if (cause?.message === "bad port")
    return "fetch refuses this port (on the WHATWG list of blocked ports, such as 1, 22, 25 or 6000): serve the endpoint on another port";
  if (err instanceof Error && cause?.message) return `${err.message}: ${cause.message}`;
  return err instanceof Error ? err.message : String(err);
}

function preview(text: string): string {
  const t = text.trim();
  return JSON.stringify(t.length > 200 ? `${t.slice(0, 200)}...` : t);
}
