/**
 * The client side of the campaign's operator surface: what the Temporal UI shows above a campaign
 * started from the CLI (static summary and details, fixed at start), and abort as an operator
 * means it (the reason recorded by the workflow, then a cancel request, so the UI shows Canceled).
 */
import { WorkflowNotFoundError, type Client } from "@temporalio/client";
import { abortSignal } from "../../workflows/definitions.js";
import { frozenConfigHash, type FrozenCampaignConfig } from "../config/frozen.js";

export function campaignStartMetadata(frozen: FrozenCampaignConfig, campaignId: string): { staticSummary: string; staticDetails: string } {
  const c = frozen.config;
  const roles = Object.entries(c.roles)
    .map(([role, r]) => `${role}: ${(r as { model?: string }).model ?? "?"} @ ${(r as { endpoint?: string }).endpoint ?? "?"}`)
    .join(", ");
  return {
    staticSummary: `campaign ${campaignId} (${c.name}): ${c.iterations} iteration${c.iterations === 1 ? "" : "s"}, ${c.stages.length} stages`,
    staticDetails: [
      `**Config**: sha256 ${frozenConfigHash(frozen)}`,
      `**Stages**: ${c.stages.map((s) => s.name).join(" → ")}`,
      `**Roles**: ${roles}`,
      `**Seed**: ${c.seed}`,
      "Operate from the CLI (`toolloop campaign status|pause|resume|retry-stage|skip-stage|abort " + campaignId + "`) or from this page: docs/ui.md.",
    ].join("\n\n"), // markdown: one paragraph each
  };
}

/**
 * Records the reason (the `abort` signal), then requests cancellation: the workflow cancels its
 * running work, records the abort in Postgres and ends as Canceled. Safe to repeat.
 */
export async function abortCampaign(client: Client, workflowId: string, reason?: string): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  await handle.signal(abortSignal, reason ? { reason } : {});
  try {
    await handle.cancel();
  } catch (err) {
    // Closed between the signal and the cancel request (the workflow asks for its own cancellation too).
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}
