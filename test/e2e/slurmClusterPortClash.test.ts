/**
 * The Slurm test cluster's start when its controller's port is taken between the probe and the bind
 * (another process of the parallel suite got it first): the start retries on new ports and the
 * cluster answers, instead of the test that needed it failing in its set-up.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { findFreePorts } from "../../src/services/ports.js";
import { startSlurmCluster } from "../helpers/slurmCluster.js";
import { squatPort } from "../helpers/portSquatter.js";

test("a Slurm cluster whose first ports are taken starts on new ones", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-slurm-clash-"));
  const squatter = await squatPort();
  const taken = squatter.port;
  const logs: string[] = [];
  const attempts: number[] = [];
  try {
    const cluster = await startSlurmCluster({
      dir: path.join(root, "cluster"),
      log: (m) => logs.push(m),
      pickPorts: async (attempt) => {
        attempts.push(attempt);
        const [a, b] = (await findFreePorts(3)).filter((p) => p !== taken) as [number, number];
        return attempt === 1 ? [taken, b] : [a, b];
      },
    });
    try {
      // A retry after the clash. Its fresh ports can be taken too by another test of the parallel
      // suite, which the start retries the same way: one more attempt is not this test failing.
      assert.deepEqual(attempts.slice(0, 2), [1, 2], `a retry after the clash; log:\n${logs.join("\n")}`);
      assert.ok(attempts.length <= 3, `at most the start's three attempts; log:\n${logs.join("\n")}`);
      assert.ok(
        logs.some((m) => m.includes(`start on ports ${taken}/`) && m.includes("retrying on new ports")),
        logs.join("\n"),
      );
      const conf = fs.readFileSync(cluster.confPath, "utf8");
      assert.doesNotMatch(conf, new RegExp(`SlurmctldPort=${taken}\\n`), "the conf names the new controller port");
      // The first attempt's logs are kept beside the second's and say why it failed.
      const kept = fs.readdirSync(path.join(cluster.dir, "logs")).filter((f) => f.endsWith(".attempt-1"));
      assert.ok(kept.length > 0, "the failed attempt's logs are kept");
      const sinfo = execFileSync("sinfo", ["--noheader", "--nodes", cluster.nodeName, "--format=%T"], {
        env: { ...process.env, SLURM_CONF: cluster.confPath },
        encoding: "utf8",
      });
      assert.match(sinfo.trim(), /^idle/);
    } finally {
      await cluster.stop();
    }
  } finally {
    await squatter.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
