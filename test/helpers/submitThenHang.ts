/**
 * A stand-in worker for the kill -9 tests: builds a launcher from the config given as JSON, submits
 * the job given as JSON, prints "submitted <externalId>" the moment submit returns, then idles as a
 * worker would while it records the job, until the test SIGKILLs it (it records nothing, on purpose).
 *
 * Usage: node dist/test/helpers/submitThenHang.js '<launcher config JSON>' '<job request JSON>'
 */
import { launcherConfigSchema } from "../../src/training/launchers/config.js";
import { createLauncher } from "../../src/training/launchers/index.js";
import type { JobRequest } from "../../src/training/launchers/launcher.js";

const [configJson, requestJson] = process.argv.slice(2);
if (!configJson || !requestJson) {
  console.error("usage: submitThenHang.js '<launcher config JSON>' '<job request JSON>'");
  process.exit(2);
}
const launcher = createLauncher(launcherConfigSchema.parse(JSON.parse(configJson)), { log: (m) => console.error(m) });
const { ref, submitted } = await launcher.submit(JSON.parse(requestJson) as JobRequest);
process.stdout.write(`submitted ${ref.externalId} ${submitted}\n`);
setInterval(() => undefined, 60_000);
