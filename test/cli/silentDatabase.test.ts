/**
 * A PostgreSQL address that takes the TCP connection and never answers (a hung server, another
 * service on that port, a proxy whose backend is gone): every command that reads the database ends
 * within seconds, exit 1, naming DATABASE_URL and the address, instead of waiting for good.
 */
import assert from "node:assert/strict";
import net from "node:net";
import path from "node:path";
import { test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { REPO_ROOT } from "../helpers/trainVenv.js";

/** Well above the 5 s connect limit and a CLI start-up on a loaded machine; a hung command is killed here. */
const PROMPTLY_MS = 40_000;

test("a DATABASE_URL whose server never answers: model, sample, report, db migrate and campaign start end promptly, exit 1 naming it", async () => {
  const held: net.Socket[] = [];
  const silent = net.createServer((socket) => void held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  try {
    const port = (silent.address() as net.AddressInfo).port;
    // Temporal at a refused port: a command that got past the database would stop there (exit 1, naming TEMPORAL_ADDRESS).
    const env = { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/toolloop`, TEMPORAL_ADDRESS: "127.0.0.1:1", TOOLLOOP_METRICS_ADDRESS: "" };
    const said = `error: cannot reach PostgreSQL at 127.0.0.1:${port}/toolloop (DATABASE_URL): no answer within 5s; check that it is running\n`;
    for (const args of [
      ["model", "list", "c1"],
      ["model", "stop", "c1"],
      ["model", "restart", "c1"],
      ["sample", "lineage", "s1"],
      ["report", "build", "c1"],
      ["db", "migrate"],
    ]) {
      const r = await runCli(args, env, PROMPTLY_MS);
      assert.equal(r.stderr, said, `${args.join(" ")} (${r.ms} ms, exit ${r.status})`);
      assert.equal(r.status, 1, args.join(" "));
    }
    // campaign start reads the database only to compare configs and find the policy a rerun calls: it
    // goes on without it, and stops at Temporal.
    const config = path.join(REPO_ROOT, "examples", "demo.campaign.json");
    const start = await runCli(["campaign", "start", "--config", config, "--id", "silent-db", "--skip-endpoint-check"], env, PROMPTLY_MS);
    assert.equal(start.status, 1, `campaign start (${start.ms} ms): ${start.stderr}`);
    assert.match(start.stderr, /^error: cannot reach Temporal at 127\.0\.0\.1:1 \(TEMPORAL_ADDRESS\)/m);
  } finally {
    for (const s of held) s.destroy();
    silent.close();
  }
});
