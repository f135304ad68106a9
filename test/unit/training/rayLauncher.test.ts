/**
 * The Ray launcher's parts that need no Ray: the entrypoint's shell quoting (run by a real sh), log
 * tails, and its errors when the dashboard cannot be reached or does not answer. (Against a real Ray
 * head: test/e2e/rayLauncher.test.ts.)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import net from "node:net";
import { test } from "node:test";
import { RayJobsLauncher, rayEntrypoint, shellQuote, tailOf } from "../../../src/training/launchers/ray.js";

test("the entrypoint runs the argv as given, in the work folder, whatever the characters", () => {
  const words = ["plain", "two words", "it's", '"double"', "$HOME", "`id`", "a\nb", ""];
  const line = rayEntrypoint({ command: ["sh", "-c", 'printf "%s|" "$@"; pwd', "sh", ...words], workDir: "/tmp" });
  const res = spawnSync("sh", ["-c", line], { encoding: "utf8" });
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stdout, `plain|two words|it's|"double"|$HOME|\`id\`|a\nb||/tmp\n`);
  assert.equal(shellQuote("tl-job-1"), "tl-job-1");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
});

test("a log tail is cut at a character boundary", () => {
  assert.equal(tailOf("hello", 10), "hello");
  assert.equal(tailOf("hello", 3), "llo");
  assert.equal(tailOf("aé", 1), ""); // é is two bytes: half of it is dropped, not garbled
  assert.equal(tailOf("aé", 2), "é");
});

test("a bad address or job name is refused with a message that names it", () => {
  const log = () => undefined;
  assert.throws(() => new RayJobsLauncher({ kind: "ray", address: "not a url", headers: {} }, { log }), /address "not a url" is not a URL/);
  assert.throws(() => new RayJobsLauncher({ kind: "ray", address: "ftp://h:1", headers: {} }, { log }), /must be an http: or https: URL/);
  const launcher = new RayJobsLauncher({ kind: "ray", address: "http://127.0.0.1:9", headers: {} }, { log });
  return assert.rejects(
    launcher.submit({ name: "Bad_Name", command: ["true"], env: {}, workDir: "/tmp", resources: { nodes: 1, gpusPerNode: 0 } }),
    /job name "Bad_Name" is not valid/,
  );
});

test("a dashboard that refuses connections is tried again, then the error names the address and the route", async () => {
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  const lines: string[] = [];
  const launcher = new RayJobsLauncher({ kind: "ray", address: `http://127.0.0.1:${port}/`, headers: {} }, { log: (m) => lines.push(m), attempts: 3 });
  await assert.rejects(launcher.find("tl-job"), (err: Error) => {
    assert.match(err.message, new RegExp(`GET http://127.0.0.1:${port}/api/jobs/tl-job: .*ECONNREFUSED`));
    assert.match(err.message, /after 3 tries/);
    return true;
  });
  assert.equal(lines.filter((l) => l.includes("trying again")).length, 2);
});

test("a dashboard that never answers times out per request", async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s)); // accepts, never answers
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const launcher = new RayJobsLauncher(
      { kind: "ray", address: `http://127.0.0.1:${port}`, headers: {} },
      { log: () => undefined, attempts: 1, requestTimeoutMs: 300 },
    );
    const started = Date.now();
    await assert.rejects(
      launcher.status({ launcher: "ray", name: "tl-job", externalId: "tl-job" }),
      /GET http:\/\/127\.0\.0\.1:\d+\/api\/jobs\/tl-job: no answer within 300 ms/,
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  }
});
