/**
 * The Ray head's start when its dashboard port is taken between the probe and the bind (another
 * process of the parallel suite got it first): `ray start` fails at once ("already occupied"), the
 * start retries on new ports, and the head's Jobs API answers, instead of the tests that needed it
 * failing in their set-up.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { freePorts, startRayHead } from "../helpers/rayCluster.js";
import { squatPort } from "../helpers/portSquatter.js";

test("a Ray head whose dashboard port is taken starts on new ports", async () => {
  const squatter = await squatPort();
  const taken = squatter.port;
  const logs: string[] = [];
  const attempts: number[] = [];
  try {
    const head = await startRayHead({
      log: (m) => logs.push(m),
      pickPorts: async (attempt) => {
        attempts.push(attempt);
        const ports = (await freePorts(8)).filter((p) => p !== taken).slice(0, 7);
        if (attempt === 1) ports[0] = taken;
        return ports;
      },
    });
    try {
      // A retry after the clash. Its fresh ports can be taken too by another test of the parallel
      // suite, which the start retries the same way: one more attempt is not this test failing.
      assert.deepEqual(attempts.slice(0, 2), [1, 2], `a retry after the clash; log:\n${logs.join("\n")}`);
      assert.ok(attempts.length <= 3, `at most the start's three attempts; log:\n${logs.join("\n")}`);
      assert.ok(
        logs.some((m) => m.includes("start attempt 1 of 3 hit a taken port") && m.includes(String(taken))),
        logs.join("\n"),
      );
      assert.notEqual(new URL(head.address).port, String(taken));
      const res = await fetch(`${head.address}/api/jobs/`);
      assert.equal(res.status, 200);
      assert.ok(Array.isArray(await res.json()), "the Jobs API lists jobs");
    } finally {
      await head.stop();
    }
  } finally {
    await squatter.close();
  }
});
