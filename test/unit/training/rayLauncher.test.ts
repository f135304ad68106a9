/**
 * The Ray launcher's parts that need no Ray: the entrypoint's shell quoting (run by a real sh), log
 * tails (against a local HTTP server that answers the routes as Ray 2.60 does, and as Rays without the
 * state API's log route do), and its errors when the dashboard cannot be reached or does not answer. (Against a real Ray
 * head: test/e2e/rayLauncher.test.ts.)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { test } from "node:test";
import {
  RayJobsLauncher,
  rayEntrypoint,
  rayEntrypointFit,
  rayEntrypointResources,
  shellQuote,
  slurmMemoryBytes,
  tailLinesFor,
  tailOf,
} from "../../../src/training/launchers/ray.js";

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

/**
 * A local dashboard with one job: `GET /api/jobs/{id}` (its details), `GET /api/jobs/{id}/logs` (the whole
 * log in one JSON string) and `GET /api/v0/logs/file` answered as Ray 2.60 does (the last `lines` lines, a
 * last line without newline counted, streamed in chunks; 500 with Ray's text for a job it does not know;
 * a ValueError's 500 without a node), or as a Ray without that route (404) or with a failing one.
 */
async function fakeRay(opts: {
  log: string;
  job?: string;
  driverNodeId?: string | null;
  stateRoute?: "ok" | "404" | "500" | "inline-error";
}): Promise<{ address: string; requests: URL[]; stateBytes: number[]; close(): Promise<void> }> {
  const job = opts.job ?? "tl-job";
  const requests: URL[] = [];
  const stateBytes: number[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(url);
    const send = (status: number, body: string, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    if (url.pathname === `/api/jobs/${job}`)
      return send(200, JSON.stringify({ submission_id: job, status: "RUNNING", driver_node_id: opts.driverNodeId === undefined ? "ab12" : opts.driverNodeId }));
    if (url.pathname === `/api/jobs/${job}/logs`) return send(200, JSON.stringify({ logs: opts.log }));
    if (url.pathname.startsWith("/api/jobs/")) return send(404, `Job ${url.pathname.split("/")[3]} does not exist`, "text/plain");
    if (url.pathname === "/api/v0/logs/file") {
      const mode = opts.stateRoute ?? "ok";
      if (mode === "404") return send(404, "404: Not Found", "text/plain");
      if (mode === "500") return send(500, "500 Internal Server Error\n\nServer got itself in trouble", "text/plain");
      if (mode === "inline-error") return send(200, "[get_logs] Fetch log error: no agent on node ab12", "text/plain");
      if (!url.searchParams.get("node_id")) return send(500, "500 Internal Server Error\n\nServer got itself in trouble", "text/plain");
      if (url.searchParams.get("submission_id") !== job)
        return send(
          500,
          `Could not find a log file. Please make sure the given option exists in the cluster.\n\tsubmission_id: ${url.searchParams.get("submission_id")}\n`,
          "text/plain",
        );
      const lines = Number(url.searchParams.get("lines") ?? 1000);
      const all = opts.log.match(/[^\n]*\n|[^\n]+$/g) ?? [];
      const body = Buffer.from((lines === -1 ? all : all.slice(-lines)).join(""), "utf8");
      stateBytes.push(body.length);
      res.writeHead(200, { "content-type": "text/plain" }); // no length: chunked, as Ray streams it
      for (let i = 0; i < body.length; i += 1000) res.write(body.subarray(i, i + 1000));
      res.end();
      return;
    }
    send(404, "404: Not Found", "text/plain");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    address,
    requests,
    stateBytes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const jobRef = (name = "tl-job") => ({ launcher: "ray" as const, name, externalId: name });
/** 20,000 numbered lines of 50 bytes (1 MB), the last one without a newline. */
const bigLog = Array.from({ length: 20_000 }, (_, i) => `step ${String(i).padStart(6, "0")} ${"x".repeat(37)}`).join("\n");

test("a log tail is read through the state API: only the last lines travel, cut to tailBytes, the last line whole", async () => {
  const ray = await fakeRay({ log: bigLog });
  const lines: string[] = [];
  try {
    const launcher = new RayJobsLauncher({ kind: "ray", address: ray.address, headers: {} }, { log: (m) => lines.push(m) });
    assert.equal(await launcher.logs(jobRef(), { tailBytes: 2000 }), tailOf(bigLog, 2000));
    assert.match(await launcher.logs(jobRef(), { tailBytes: 16_384 }), /step 019999 x{37}$/);
    assert.equal(await launcher.logs(jobRef(), { tailBytes: 8 }), "xxxxxxxx");
    const state = ray.requests.filter((u) => u.pathname === "/api/v0/logs/file");
    assert.deepEqual(
      state.map((u) => Object.fromEntries(u.searchParams)),
      [2000, 16_384, 8].map((b) => ({ submission_id: "tl-job", node_id: "ab12", lines: String(tailLinesFor(b)), format: "text" })),
    );
    assert.equal(ray.requests.filter((u) => u.pathname.endsWith("/logs")).length, 0, "the whole log is never asked for");
    assert.ok(Math.max(...ray.stateBytes) < 30_000, `each answer is bounded by the tail, not the 1 MB log: ${ray.stateBytes.join(", ")}`);
    assert.deepEqual(lines, []);
  } finally {
    await ray.close();
  }
});

test("short lines: the tail is asked once more with enough lines to fill tailBytes; a short log comes whole", async () => {
  const shortLog = Array.from({ length: 5000 }, (_, i) => `${i}`).join("\n") + "\n";
  const ray = await fakeRay({ log: shortLog });
  try {
    const launcher = new RayJobsLauncher({ kind: "ray", address: ray.address, headers: {} }, { log: () => undefined });
    assert.equal(await launcher.logs(jobRef(), { tailBytes: 2000 }), tailOf(shortLog, 2000));
    const asked = ray.requests.filter((u) => u.pathname === "/api/v0/logs/file").map((u) => Number(u.searchParams.get("lines")));
    assert.equal(asked.length, 2);
    assert.ok(asked[1]! > asked[0]!, `more lines the second time: ${asked.join(" then ")}`);
  } finally {
    await ray.close();
  }
  const tiny = await fakeRay({ log: "only\ntwo lines" });
  try {
    const launcher = new RayJobsLauncher({ kind: "ray", address: tiny.address, headers: {} }, { log: () => undefined });
    assert.equal(await launcher.logs(jobRef(), { tailBytes: 2000 }), "only\ntwo lines");
    assert.equal(tiny.requests.filter((u) => u.pathname === "/api/v0/logs/file").length, 1, "fewer lines than asked: that was all of it");
  } finally {
    await tiny.close();
  }
});

test("a Ray without the state log route (404): the whole log is read instead, and from then on without asking again", async () => {
  const ray = await fakeRay({ log: bigLog, stateRoute: "404" });
  const lines: string[] = [];
  try {
    const launcher = new RayJobsLauncher({ kind: "ray", address: ray.address, headers: {} }, { log: (m) => lines.push(m) });
    assert.equal(await launcher.logs(jobRef(), { tailBytes: 2000 }), tailOf(bigLog, 2000));
    assert.equal(await launcher.logs(jobRef(), { tailBytes: 100 }), tailOf(bigLog, 100));
    assert.equal(ray.requests.filter((u) => u.pathname === "/api/v0/logs/file").length, 1);
    assert.equal(ray.requests.filter((u) => u.pathname === "/api/jobs/tl-job/logs").length, 2);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /no state API log route .*404/);
  } finally {
    await ray.close();
  }
});

test("a state log route that fails for the job (500, or an error inside a 200): that read falls back to the whole log", async () => {
  for (const stateRoute of ["500", "inline-error"] as const) {
    const ray = await fakeRay({ log: bigLog, stateRoute });
    const lines: string[] = [];
    try {
      const launcher = new RayJobsLauncher({ kind: "ray", address: ray.address, headers: {} }, { log: (m) => lines.push(m) });
      assert.equal(await launcher.logs(jobRef(), { tailBytes: 2000 }), tailOf(bigLog, 2000));
      assert.equal(await launcher.logs(jobRef(), { tailBytes: 2000 }), tailOf(bigLog, 2000));
      assert.equal(ray.requests.filter((u) => u.pathname === "/api/v0/logs/file").length, 2, `${stateRoute}: the state route is tried again next time`);
      assert.equal(lines.length, 1, `${stateRoute}: said once: ${lines.join(" | ")}`);
      assert.match(lines[0]!, stateRoute === "500" ? /job tl-job's log tail \(HTTP 500: Server got itself in trouble\)/ : /Fetch log error: no agent/);
    } finally {
      await ray.close();
    }
  }
});

test("a job without a driver node yet reads the whole (short) log; a job Ray does not know is an error that names it", async () => {
  const ray = await fakeRay({ log: "Runtime env is setting up.\n", driverNodeId: null });
  try {
    const launcher = new RayJobsLauncher({ kind: "ray", address: ray.address, headers: {} }, { log: () => undefined });
    assert.equal(await launcher.logs(jobRef()), "Runtime env is setting up.\n");
    assert.equal(ray.requests.filter((u) => u.pathname === "/api/v0/logs/file").length, 0);
    await assert.rejects(
      launcher.logs(jobRef("tl-other")),
      /GET http:\/\/127\.0\.0\.1:\d+\/api\/jobs\/tl-other\/logs answered HTTP 404: Job tl-other does not exist/,
    );
  } finally {
    await ray.close();
  }
});

test("answers are bounded: very long lines are asked again as the last line alone, or refused; an oversized whole log is refused once", async () => {
  const longLines = `${"a".repeat(3000)}\n${"b".repeat(3000)}\n${"c".repeat(700)}`;
  const ray = await fakeRay({ log: longLines });
  try {
    const launcher = new RayJobsLauncher({ kind: "ray", address: ray.address, headers: {} }, { log: () => undefined, maxTailResponseBytes: 1000 });
    assert.equal(await launcher.logs(jobRef(), { tailBytes: 2000 }), "c".repeat(700));
    const asked = ray.requests.filter((u) => u.pathname === "/api/v0/logs/file").map((u) => u.searchParams.get("lines"));
    assert.deepEqual(asked, [String(tailLinesFor(2000)), "1"]);
  } finally {
    await ray.close();
  }
  const oneLongLine = await fakeRay({ log: "z".repeat(5000) });
  try {
    const launcher = new RayJobsLauncher({ kind: "ray", address: oneLongLine.address, headers: {} }, { log: () => undefined, maxTailResponseBytes: 1000 });
    await assert.rejects(launcher.logs(jobRef(), { tailBytes: 100 }), /the last line of job tl-job's log is longer than 1000 bytes/);
  } finally {
    await oneLongLine.close();
  }
  const old = await fakeRay({ log: bigLog, stateRoute: "404" });
  try {
    const launcher = new RayJobsLauncher({ kind: "ray", address: old.address, headers: {} }, { log: () => undefined, maxResponseBytes: 100_000 });
    await assert.rejects(launcher.logs(jobRef(), { tailBytes: 100 }), /job tl-job's whole log is larger than 100000 bytes/);
    assert.equal(old.requests.filter((u) => u.pathname === "/api/jobs/tl-job/logs").length, 1, "not tried again");
  } finally {
    await old.close();
  }
});

/** A dashboard whose job is RUNNING until `runningLooks` more looks after its stop (never, when undefined). */
async function stoppableRay(runningLooks?: number): Promise<{ address: string; looks: () => number; stops: () => number; close(): Promise<void> }> {
  let stops = 0;
  let looksAfterStop = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    res.writeHead(200, { "content-type": "application/json" });
    if (req.method === "POST" && url.pathname === "/api/jobs/tl-job/stop") {
      stops++;
      return res.end(JSON.stringify({ stopped: true }));
    }
    if (stops > 0) looksAfterStop++;
    const ended = runningLooks !== undefined && stops > 0 && looksAfterStop > runningLooks;
    res.end(
      JSON.stringify({
        submission_id: "tl-job",
        status: ended ? "STOPPED" : "RUNNING",
        message: ended ? "Job was intentionally stopped." : "Job is currently running.",
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    looks: () => looksAfterStop,
    stops: () => stops,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test("cancel waits until Ray reports the stopped job ended, looking again every stopPollMs", async () => {
  const ray = await stoppableRay(3);
  try {
    const launcher = new RayJobsLauncher({ kind: "ray", address: ray.address, headers: {} }, { log: () => undefined, stopPollMs: 20, stopWaitMs: 5_000 });
    await launcher.cancel(jobRef());
    assert.equal(ray.stops(), 1);
    assert.equal(ray.looks(), 4, "three looks saw it RUNNING, the fourth STOPPED");
  } finally {
    await ray.close();
  }
});

test("a job Ray still reports running past stopWaitMs fails the cancel with an error saying so; an aborted wait ends at once", async () => {
  const ray = await stoppableRay(undefined);
  try {
    const launcher = new RayJobsLauncher({ kind: "ray", address: ray.address, headers: {} }, { log: () => undefined, stopPollMs: 20, stopWaitMs: 300 });
    const started = Date.now();
    await assert.rejects(launcher.cancel(jobRef()), (err: Error) => {
      assert.equal(err.name, "JobStopTimeout");
      assert.match(
        err.message,
        /Ray at http:\/\/127\.0\.0\.1:\d+ was asked to stop job tl-job 0 s ago and still reports it RUNNING: Job is currently running\./,
      );
      assert.match(err.message, /RAY_JOB_STOP_WAIT_TIME_S/);
      return true;
    });
    const waited = Date.now() - started;
    assert.ok(waited >= 300 && waited < 3_000, `waited ${waited} ms`);
    assert.ok(ray.looks() >= 5, `looked ${ray.looks()} times`);

    const abort = new AbortController();
    const slow = new RayJobsLauncher({ kind: "ray", address: ray.address, headers: {} }, { log: () => undefined, stopPollMs: 20, stopWaitMs: 60_000 });
    setTimeout(() => abort.abort(), 100);
    const abortedAt = Date.now();
    await assert.rejects(slow.cancel(jobRef(), { signal: abort.signal }), { name: "AbortError" });
    assert.ok(Date.now() - abortedAt < 2_000);
    assert.equal(ray.stops(), 2, "the stop was asked before the wait");
  } finally {
    await ray.close();
  }
});

test("a job's CPUs, GPUs and memory go into the submit as Ray's entrypoint fields (memory in bytes); a Ray driver's ask none", async () => {
  assert.equal(slurmMemoryBytes("64G"), 64 * 1024 ** 3);
  assert.equal(slurmMemoryBytes("512"), 512 * 1024 ** 2, "megabytes without a unit, as sbatch");
  assert.equal(slurmMemoryBytes("2T"), 2 * 1024 ** 4);
  assert.equal(slurmMemoryBytes("0"), undefined, "all of a node's memory: Ray has no such ask");
  assert.deepEqual(rayEntrypointResources({ nodes: 1, gpusPerNode: 0 }), {});
  assert.deepEqual(rayEntrypointResources({ nodes: 1, gpusPerNode: 8, cpusPerTask: 32, memPerNode: "64G", rayDriver: true }), {});
  // What Ray receives, read off the wire: a policy server's vLLM on 2 GPUs.
  const bodies: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    let text = "";
    req.on("data", (d: Buffer) => (text += d.toString()));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/api/jobs/") {
        bodies.push(JSON.parse(text) as Record<string, unknown>);
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ job_id: "x", submission_id: "tl-serve" }));
      }
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Job tl-serve does not exist");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const address = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const launcher = new RayJobsLauncher({ kind: "ray", address, headers: {} }, { log: () => undefined });
    const resources = { nodes: 1, gpusPerNode: 2, cpusPerTask: 8, memPerNode: "48G" };
    await launcher.submit({ name: "tl-serve", command: ["vllm", "serve", "/m"], env: {}, workDir: "/w", resources });
    const body = bodies[0] ?? {};
    assert.equal(body.entrypoint_num_gpus, 2);
    assert.equal(body.entrypoint_num_cpus, 8);
    assert.equal(body.entrypoint_memory, 48 * 1024 ** 3);
    assert.equal(body.entrypoint_resources, undefined);
    assert.deepEqual(JSON.parse((body.metadata as Record<string, string>).toolloop_entrypoint ?? ""), {
      entrypoint_num_cpus: 8,
      entrypoint_num_gpus: 2,
      entrypoint_memory: 48 * 1024 ** 3,
    });
    await assert.rejects(
      launcher.submit({ name: "tl-bad-mem", command: ["x"], env: {}, workDir: "/w", resources: { nodes: 1, gpusPerNode: 0, memPerNode: "64GB" } }),
      /resources\.memPerNode "64GB" is not sbatch's --mem value/,
    );
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("rayEntrypointFit: one node must hold the whole ask; never on a cluster that cannot add nodes, else it waits for an autoscaler or a node's return", () => {
  const node = (state: string, CPU: number, GPU = 0, memory = 16 * 1024 ** 3) => ({ state, resources_total: { CPU, GPU, memory } });
  const ask = { entrypoint_num_cpus: 8, entrypoint_num_gpus: 1 };
  assert.equal(rayEntrypointFit({}, [node("ALIVE", 2)], false), undefined, "nothing asked");
  assert.equal(rayEntrypointFit(ask, [node("ALIVE", 2), node("ALIVE", 16, 1)], false), undefined, "the second node holds it");
  // 8 CPUs on one node, a GPU on another: no one node holds both.
  const split = rayEntrypointFit(ask, [node("ALIVE", 16, 0), node("ALIVE", 4, 1)], false);
  assert.ok(split && "never" in split);
  assert.equal(
    split.never,
    "its entrypoint asks one node for 8 CPUs (cpusPerTask), 1 GPU (the stage's GPUs per node), and no alive node has that (the most any of its 2 alive nodes has: 16 CPUs, 1 GPU; Ray's memory is what it offers to tasks, about 70% of a node's RAM), and the cluster cannot add nodes (it has no autoscaler)",
  );
  const autoscaled = rayEntrypointFit(ask, [node("ALIVE", 2)], true);
  assert.ok(autoscaled && "waits" in autoscaled);
  assert.match(
    autoscaled.waits,
    /it starts only if the autoscaler adds such a node, else Ray fails it after RAY_JOB_START_TIMEOUT_SECONDS \(15 minutes by default\)$/,
  );
  const unknown = rayEntrypointFit(ask, [node("ALIVE", 2)], undefined);
  assert.ok(unknown && "waits" in unknown && /whether the cluster has one could not be read/.test(unknown.waits));
  const deadHolds = rayEntrypointFit(ask, [node("ALIVE", 2), node("DEAD", 16, 1)], false);
  assert.ok(deadHolds && "waits" in deadHolds && /a node that is not alive now could hold it: it starts if that node comes back$/.test(deadHolds.waits));
});
