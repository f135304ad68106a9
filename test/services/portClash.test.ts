/**
 * A Temporal dev server whose port is taken fails with a message naming the cause, the port and a
 * remedy, even when the server prints a long panic after the bind error (as Go servers may).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startTemporalDevServer } from "../../src/services/temporalDevServer.js";
import { errorLines, findAddressInUse, readFileFrom } from "../../src/util/childProcess.js";
import { findFreePorts } from "../../src/services/ports.js";

/** A plain TCP listener on the port; it hangs up on whoever connects (the readiness probe does). */
async function occupy(port: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: "127.0.0.1", exclusive: true }, resolve);
  });
  return server;
}

for (const which of ["gRPC", "UI"] as const) {
  test(`dev server: its ${which} port held by another process is named in the error, with what to do`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-svc-clash-"));
    const [port, uiPort] = (await findFreePorts(2)) as [number, number];
    const busy = which === "gRPC" ? port : uiPort;
    const holder = await occupy(busy);
    try {
      const err: unknown = await startTemporalDevServer({ stateDir: dir, port, uiPort, readyTimeoutMs: 30_000 }).then(
        (s) => s.stop().then(() => assert.fail("started on a port that is in use")),
        (e: unknown) => e,
      );
      assert.ok(err instanceof Error);
      assert.match(err.message, new RegExp(`${which} port ${busy} on 127\\.0\\.0\\.1 is already in use`));
      assert.match(err.message, new RegExp(`ss -ltnp 'sport = :${busy}'`));
      assert.match(err.message, /or start with another port/);
      assert.match(err.message, /address already in use/);
    } finally {
      holder.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("log scan: the bind error is found before a long panic trace, and only in this start's section", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-svc-logscan-"));
  try {
    const log = path.join(dir, "temporal.log");
    // An earlier start's clash must not be blamed on this one.
    fs.writeFileSync(log, '--- earlier start\ntime=x level=ERROR msg="listen tcp 127.0.0.1:7233: bind: address already in use"\n');
    const offset = fs.statSync(log).size;
    const goroutines = Array.from(
      { length: 400 },
      (_, i) => `goroutine ${i + 2} [select]:\n\tgo.temporal.io/server/common/membership.(*ringpop).Start(...)\n\t/go/pkg/mod/x.go:${i}`,
    ).join("\n");
    fs.appendFileSync(log, `--- this start\npanic: listen tcp 127.0.0.1:43127: bind: address already in use\n\ngoroutine 1 [running]:\n${goroutines}\n`);
    const section = readFileFrom(log, offset);
    assert.deepEqual(findAddressInUse(section), { line: "panic: listen tcp 127.0.0.1:43127: bind: address already in use", port: 43127 });
    assert.deepEqual(errorLines(section), ["panic: listen tcp 127.0.0.1:43127: bind: address already in use"]);
    assert.equal(findAddressInUse(readFileFrom(log, fs.statSync(log).size)), undefined);
    assert.deepEqual(findAddressInUse(`time=t level=ERROR msg="can't set UI port 8233: listen tcp 127.0.0.1:8233: bind: address already in use"`)?.port, 8233);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
