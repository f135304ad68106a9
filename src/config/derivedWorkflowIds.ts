/**
 * A campaign's workflow runs its parts under ids derived from its own (workflows/definitions.ts,
 * workflows/stageRunner.ts): `<W>-iter-<n>` (iteration n), `<W>-iter-<n>-<stage>-job-a<k>` (a stage's
 * cluster job) and `<W>-iter-<n>-<stage>-a<k>-from<b>` (a chunk of a stage's batches). Temporal keeps
 * one running workflow per id, so a campaign whose own workflow id has one of these shapes takes the
 * id another campaign's part needs: `campaign start --id cx-iter-2` (workflow `campaign-cx-iter-2`)
 * beside campaign `cx` made `cx` fail as it reached iteration 2 ("Workflow execution already
 * started"), or was itself refused as "already running" when `cx` was there first. Such ids are
 * refused before anything starts (CLI) and at registration (a start from the Temporal UI).
 */

const DERIVED = /^(.+)-iter-(\d+)(?:-([a-z][a-zA-Z0-9]*(?:\.[a-zA-Z0-9]+)+)-(?:job-a\d+|a\d+-from\d+))?$/;

/** The campaign workflow id whose part `workflowId` would be, and which part; undefined for an id no campaign derives. */
export function derivedWorkflowIdOwner(workflowId: string): { ownerWorkflowId: string; part: string } | undefined {
  const m = DERIVED.exec(workflowId);
  if (!m) return undefined;
  const [, owner, n, stage] = m;
  return { ownerWorkflowId: owner!, part: stage ? `iteration ${n}'s stage ${stage}` : `iteration ${n}` };
}

/**
 * Why a new campaign cannot run under `workflowId` (its own campaign id `campaignId`), or undefined.
 * `field` names what the user gave (`--id`, `campaignId`, the workflow id).
 */
export function campaignWorkflowIdProblem(workflowId: string, campaignId: string, field: string): string | undefined {
  const owner = derivedWorkflowIdOwner(workflowId);
  if (!owner) return undefined;
  const ownerCampaign = owner.ownerWorkflowId.startsWith("campaign-") ? owner.ownerWorkflowId.slice("campaign-".length) : owner.ownerWorkflowId;
  return (
    `${field}: campaign id ${JSON.stringify(campaignId)} cannot be used: its workflow id ${workflowId} is the id ` +
    `campaign ${JSON.stringify(ownerCampaign)} runs its ${owner.part} under (workflow ${owner.ownerWorkflowId}), so one of ` +
    `the two campaigns would stop the other; choose an id that does not end in -iter-<number> (e.g. ${JSON.stringify(suggestion(campaignId))})`
  );
}

function suggestion(campaignId: string): string {
  return campaignId.replace(/-iter-(\d+)(?=$|-)/, "-it$1");
}
