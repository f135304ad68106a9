/**
 * The client side of the campaign's operator surface: what the Temporal UI shows above a campaign
 * started from the CLI (static summary and details, fixed at start), and abort as an operator
 * means it (the reason recorded by the workflow, which then ends as Canceled).
 */
import type { Client } from "@temporalio/client";
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
 * Sends the `abort` signal with the reason. The workflow records it and asks Temporal to cancel
 * itself (an activity: a workflow cannot cancel itself), so it ends as Canceled. The CLI does not
 * send the cancel request itself: a campaign started before the operator-surface patch ends its
 * own way on the signal, and a cancel request would cut its abort bookkeeping short. Safe to repeat.
 */
export async function abortCampaign(client: Client, workflowId: string, reason?: string): Promise<void> {
  await client.workflow.getHandle(workflowId).signal(abortSignal, reason ? { reason } : {});
}
