/**
 * A worker that dies right after submitting (test/e2e/rayLauncher.test.ts): constructs the Ray launcher,
 * submits one job, prints "submitted <json>" and then waits to be SIGKILLed by the test, so nothing
 * after the submit call ever runs (no record, no cleanup).
 * Usage: node raySubmitOnce.js <dashboard address> <job request as JSON>
 */
import { RayJobsLauncher } from "../../src/training/launchers/ray.js";
import type { JobRequest } from "../../src/training/launchers/launcher.js";

const [address, requestJson] = process.argv.slice(2);
if (!address || !requestJson) {
  console.error("usage: raySubmitOnce.js <dashboard address> <job request as JSON>");
  process.exit(2);
}
const launcher = new RayJobsLauncher({ kind: "ray", address, headers: {} }, { log: (m) => console.error(m) });
const result = await launcher.submit(JSON.parse(requestJson) as JobRequest);
process.stdout.write(`submitted ${JSON.stringify(result)}\n`);
// Stay alive until the test kills us.
setInterval(() => undefined, 60_000);
