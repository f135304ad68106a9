/**
 * `campaign status ID --interval S` without `--watch` printed the status once and ignored the
 * interval without a word. Now it is bad input (exit 2) naming both flags, before anything is
 * connected to; with --watch the interval is still checked as before.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../helpers/cli.js";

/** No services: nothing listens at port 1, so a refusal must come before any connection. */
const NO_SERVICES = { TEMPORAL_ADDRESS: "127.0.0.1:1", DATABASE_URL: "", TOOLLOOP_METRICS_ADDRESS: "" };

test("--interval without --watch is refused naming both flags (exit 2); with --watch a bad interval still names --interval", async () => {
  for (const args of [
    ["campaign", "status", "c", "--interval", "5"],
    ["campaign", "status", "c", "--json", "--interval", "5"],
  ]) {
    const r = await runCli(args, NO_SERVICES, 30_000);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, "error: --interval applies only with --watch; add --watch or leave out --interval\n", args.join(" "));
    assert.equal(r.stdout, "");
  }
  const bad = await runCli(["campaign", "status", "c", "--watch", "--interval", "0.1"], NO_SERVICES, 30_000);
  assert.equal(bad.status, 2, bad.stderr);
  assert.equal(bad.stderr, 'error: --interval: expected seconds between 0.2 and 3600, got "0.1"\n');
});
