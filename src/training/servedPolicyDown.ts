/**
 * A stage that calls the policy role stops when the policy server does not answer
 * (`EndpointUnavailable`). When that endpoint is a server a `serve.policy` stage started, nothing
 * watches it any more (its stage is done), so it may simply have ended (a crash, an OOM kill, a kill
 * from outside). Here the stage's error is completed with what the server's launcher says, asked as
 * `model list` asks (5 s at most), and the commands that bring it back.
 */
import type { Db } from "../db/client.js";
import { getClusterJob } from "../db/repos/clusterJobs.js";
import type { ModelVersionRow } from "../db/repos/modelVersions.js";
import { LlmError } from "../llm/errors.js";
import { CLI, serverEndText } from "../status/campaignView.js";
import { servedPolicyEndpointName } from "./servedPolicy.js";
import { checkServedPolicies } from "./servedPolicyJobs.js";

/** The "unavailable" LlmError for this served version's endpoint in err's cause chain. */
function unavailableServed(err: unknown, iteration: number): LlmError | undefined {
  const prefix = `endpoint ${servedPolicyEndpointName(iteration)} `;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof LlmError && e.kind === "unavailable" && e.message.startsWith(prefix)) return e;
  }
  return undefined;
}

const quoted = (id: string) => (/^[A-Za-z0-9._-]+$/.test(id) ? id : JSON.stringify(id));

/**
 * When err is the served policy's endpoint being unavailable, appends to its message whether the
 * server's launcher says it runs, and what to run. `campaignId` is the campaign whose stage failed
 * (the served version may be the one of the campaign it continues from). Never throws.
 */
export async function explainServedPolicyDown(
  db: Db,
  err: unknown,
  campaignId: string,
  served: Pick<ModelVersionRow, "campaignId" | "iteration" | "jobName">,
  opts: { deadlineMs?: number; log?: (m: string) => void } = {},
): Promise<void> {
  const e = unavailableServed(err, served.iteration);
  if (!e) return;
  const owner = quoted(served.campaignId);
  const restart = `\`${CLI} model restart ${owner} --iteration ${served.iteration}\``;
  const retry = `\`${CLI} campaign retry-stage ${quoted(campaignId)}\``;
  const what = `it is the policy server serve.policy of ${served.campaignId === campaignId ? "" : `campaign ${served.campaignId} `}iteration ${served.iteration} started`;
  let said: string;
  try {
    const job = served.jobName ? await getClusterJob(db, served.jobName) : undefined;
    if (!job) throw new Error(`no job recorded for it`);
    const check = (
      await checkServedPolicies(db, [job], { campaignId: served.campaignId, deadlineMs: opts.deadlineMs ?? 5000, ...(opts.log ? { log: opts.log } : {}) })
    ).get(job.name);
    const ended =
      check?.result === "ended"
        ? check
        : !["submitting", "pending", "running"].includes(job.state)
          ? { ...job, exitCode: job.exitCode ?? undefined, message: job.message ?? undefined }
          : undefined;
    if (ended) {
      said = `${what} (job ${job.name}), and it is not running: its ${job.launcher} launcher says ${serverEndText(ended)}; ${restart} brings it back (same URL and model name), then ${retry}`;
    } else if (check?.result === "live") {
      said = `${what} (job ${job.name}); its ${job.launcher} launcher says it still ${check.state === "pending" ? "waits to run" : "runs"}, so the server itself does not answer: check its log, or stop it (\`${CLI} model stop ${owner} --iteration ${served.iteration} --force\`) and ${restart}, then ${retry}`;
    } else {
      const reason = check?.result === "unknown" ? check.reason : "no answer";
      said = `${what} (job ${job.name}); whether it still runs could not be asked here (${reason}): \`${CLI} campaign status ${owner}\` asks its launcher; if it ended, ${restart} brings it back, then ${retry}`;
    }
  } catch (x) {
    said = `${what}; could not look it up (${x instanceof Error ? x.message : String(x)}): if \`${CLI} model list ${owner}\` shows it exited, ${restart} brings it back, then ${retry}`;
  }
  e.message = `${e.message}; ${said}`;
}
