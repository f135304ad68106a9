/**
 * Provenance: what made a sample or an export. Role models and endpoints (name and URL, never a key,
 * the key variable's name or URL credentials), the campaign seed, the frozen config's hash and
 * version, the code version, and whether the LLM simulator answered (it marks every response).
 *
 * Samples carry it in `metadata.provenance` (written by the stage that made them, so exported rows
 * carry it as stored); export manifests carry the campaign-level part and per-role simulated flags.
 */
import type { CampaignConfig } from "../config/campaignConfig.js";
import type { CodeVersion } from "./codeVersion.js";

export interface RoleProvenance {
  model: string;
  /** The endpoint's name in the config. */
  endpoint: string;
  /** Its base URL without user info, query or fragment (where keys sometimes hide). */
  baseUrl: string;
}

export interface CampaignProvenance {
  campaignId: string;
  seed: number;
  /** The frozen config in force: its sha256 and version (null for a step run without a stored config, as in some tests). */
  config: { sha256: string; version: number } | null;
  code: Pick<CodeVersion, "version" | "commit">;
}

export interface SampleProvenance extends CampaignProvenance {
  iteration: number;
  stage: string;
  /** The roles whose answers went into the sample. */
  roles: Record<string, RoleProvenance>;
  /** True when any response behind the sample came from the LLM simulator. */
  simulated: boolean;
}

export interface ExportProvenance extends CampaignProvenance {
  iteration: number;
  /** Every configured role as the export's iteration used it. */
  roles: Record<string, RoleProvenance>;
  /**
   * Per role (every configured role, and any other the request ledger names): true when the LLM
   * simulator answered it. A role that has made requests (the campaign up to this iteration) counts
   * by its own answers; one that has made none yet (in iteration 1 the judges and the policy ask only
   * after the export) counts as its endpoint: true when the simulator answered another role there.
   * False: no simulator answer was seen for it.
   */
  simulatedRoles: Record<string, boolean>;
  /** True when any role was. */
  simulated: boolean;
}

/** Endpoint URLs already redacted: every sample of a batch records the same few, and URL parsing is not cheap. */
const redactedUrls = new Map<string, string>();
const REDACTED_URLS_KEPT = 256;

/** A URL safe to record: user info, query and fragment removed; an unparsable one is reduced to "(unparsable URL)". */
export function redactedUrl(url: string): string {
  let r = redactedUrls.get(url);
  if (r === undefined) {
    if (redactedUrls.size >= REDACTED_URLS_KEPT) redactedUrls.clear();
    r = redactUrl(url);
    redactedUrls.set(url, r);
  }
  return r;
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    u.hash = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "(unparsable URL)";
  }
}

/** The role as the config names it; env is never read (keys stay out), unlike resolveRole's client path. */
export function roleProvenance(config: CampaignConfig, role: string): RoleProvenance | undefined {
  const r = Object.hasOwn(config.roles, role) ? config.roles[role] : undefined;
  if (!r) return undefined;
  const endpoint = Object.hasOwn(config.endpoints, r.endpoint) ? config.endpoints[r.endpoint] : undefined;
  return { model: r.model, endpoint: r.endpoint, baseUrl: endpoint ? redactedUrl(endpoint.baseUrl) : "(unknown endpoint)" };
}

export function rolesProvenance(config: CampaignConfig, roles: readonly string[]): Record<string, RoleProvenance> {
  const out: Record<string, RoleProvenance> = {};
  for (const role of [...new Set(roles)].sort()) {
    const p = roleProvenance(config, role);
    if (p) out[role] = p;
  }
  return out;
}

export function campaignProvenance(p: {
  campaignId: string;
  config: CampaignConfig;
  stored: { sha256: string; version: number } | undefined;
  code: CodeVersion;
}): CampaignProvenance {
  return {
    campaignId: p.campaignId,
    seed: p.config.seed,
    config: p.stored ? { sha256: p.stored.sha256, version: p.stored.version } : null,
    code: { version: p.code.version, commit: p.code.commit },
  };
}

/**
 * ExportProvenance.simulatedRoles from the ledger's per-role flags (roles that made requests): a
 * configured role absent from the ledger takes its endpoint's, known from the roles that asked there.
 * Without that, iteration 1's manifest said only `{generator: true}` while its judge and policy sat on
 * the same simulator, and later iterations listed all three.
 */
export function simulatedRolesOf(config: CampaignConfig, ledger: Record<string, boolean>): Record<string, boolean> {
  const endpointUrl = (role: string) => {
    const r = Object.hasOwn(config.roles, role) ? config.roles[role] : undefined;
    const e = r && Object.hasOwn(config.endpoints, r.endpoint) ? config.endpoints[r.endpoint] : undefined;
    return e ? redactedUrl(e.baseUrl) : undefined;
  };
  const simulatedEndpoints = new Set(
    Object.entries(ledger)
      .filter(([role, simulated]) => simulated && endpointUrl(role) !== undefined)
      .map(([role]) => endpointUrl(role)),
  );
  const out: Record<string, boolean> = {};
  for (const role of [...new Set([...Object.keys(config.roles), ...Object.keys(ledger)])].sort())
    out[role] = Object.hasOwn(ledger, role) ? ledger[role] === true : simulatedEndpoints.has(endpointUrl(role));
  return out;
}

/** `ledgerSimulated`: per role that made requests in the campaign up to `iteration`, whether the simulator answered any (usage.ts simulatedByRole). */
export function exportProvenance(
  base: CampaignProvenance,
  config: CampaignConfig,
  iteration: number,
  ledgerSimulated: Record<string, boolean>,
): ExportProvenance {
  const simulatedRoles = simulatedRolesOf(config, ledgerSimulated);
  return {
    ...base,
    iteration,
    roles: rolesProvenance(config, Object.keys(config.roles)),
    simulatedRoles,
    simulated: Object.values(simulatedRoles).some(Boolean),
  };
}

/** The provenance stored with a sample: simulated if any named role's answers were, or `alsoSimulated` (e.g. the parent's). */
export function sampleProvenance(
  base: CampaignProvenance,
  p: { config: CampaignConfig; iteration: number; stage: string; roles: readonly string[]; simulatedRoles: ReadonlySet<string>; alsoSimulated?: boolean },
): SampleProvenance {
  return {
    ...base,
    iteration: p.iteration,
    stage: p.stage,
    roles: rolesProvenance(p.config, p.roles),
    simulated: Boolean(p.alsoSimulated) || p.roles.some((r) => p.simulatedRoles.has(r)),
  };
}

/** `metadata.provenance.simulated` of a stored sample (false when it has none). */
export function storedSimulated(metadata: Record<string, unknown> | undefined): boolean {
  const p = metadata?.provenance;
  return p !== null && typeof p === "object" && (p as { simulated?: unknown }).simulated === true;
}
