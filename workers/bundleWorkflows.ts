/** Build step: bundles workflows/ once so workers need not run webpack at start-up. */
import fs from "node:fs";
import { bundleWorkflowCode } from "@temporalio/worker";
import { writeBuildInfo } from "../src/provenance/codeVersion.js";
import { WORKFLOW_BUNDLE_PATH, WORKFLOWS_PATH } from "./createWorkers.js";

const { code } = await bundleWorkflowCode({
  workflowsPath: WORKFLOWS_PATH,
  logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: console.warn, error: console.error },
});
fs.writeFileSync(WORKFLOW_BUNDLE_PATH + ".tmp", code);
fs.renameSync(WORKFLOW_BUNDLE_PATH + ".tmp", WORKFLOW_BUNDLE_PATH);
console.log(`workflow bundle: ${WORKFLOW_BUNDLE_PATH} (${(code.length / 1024).toFixed(0)} KiB)`);
// Provenance reads the commit from here where the runtime has no .git (the Docker image).
const built = writeBuildInfo();
console.log(
  `build info: commit ${built.commit ?? "unknown (no git)"}${built.dirty ? " (uncommitted changes)" : ""}${built.commit ? `, committed ${built.committedAt ?? "at an unknown time (TOOLLOOP_GIT_COMMIT_TIME)"}` : ""}`,
);
