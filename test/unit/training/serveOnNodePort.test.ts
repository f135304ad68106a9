/**
 * trainer/serve/serve_on_node_port.py, which serve.policy runs on the node before vLLM when its port
 * is 0: it picks the port there (the one its port file names when that is still free), writes it, and
 * runs the server with `{port}` filled in. Run with the machine's python3 and small servers.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { installRoot } from "../../../src/training/paths.js";

const wrapper = path.join(installRoot(), "trainer", "serve", "serve_on_node_port.py");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-serve-port-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the wrapper with a command that prints the port it was given and exits. */
function once(portFile: string, command = ["sh", "-c", 'echo "given $1"', "sh", "{port}"]) {
  const r = spawnSync("python3", [wrapper, portFile, "127.0.0.1", "--", ...command], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("serve_on_node_port.py: picks a free port, writes it, and runs the command with {port} filled in", () => {
  const portFile = path.join(dir, "a.port");
  const r = once(portFile);
  assert.equal(r.status, 0, r.stderr);
  const port = Number(fs.readFileSync(portFile, "utf8").trim());
  assert.ok(port > 0 && port < 65536);
  assert.match(r.stdout, new RegExp(`port ${port} \\(a free port\\), written to `));
  assert.match(r.stdout, new RegExp(`^given ${port}$`, "m"), "the server was given the port");
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.startsWith("a.port")),
    ["a.port"],
    "no temp file left",
  );
});

test("serve_on_node_port.py: the port its file names is taken again while free, and a free one when it is taken", async () => {
  const portFile = path.join(dir, "b.port");
  assert.equal(once(portFile).status, 0);
  const port = Number(fs.readFileSync(portFile, "utf8").trim());
  const kept = once(portFile);
  assert.match(kept.stdout, new RegExp(`port ${port} \\(the port .* named before\\)`));

  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
  try {
    const moved = once(portFile);
    const now = Number(fs.readFileSync(portFile, "utf8").trim());
    assert.notEqual(now, port);
    assert.match(moved.stdout, new RegExp(`port ${now} \\(a free port; ${port} is taken\\)`));
  } finally {
    squatter.close();
  }
});

test("serve_on_node_port.py: the server it starts is the job's process (exec), reachable on the written port", async () => {
  const portFile = path.join(dir, "c.port");
  const child = spawn("python3", [wrapper, portFile, "127.0.0.1", "--", "python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", dir], {
    stdio: "ignore",
  });
  try {
    let port = 0;
    for (let i = 0; i < 100 && !port; i++) {
      await new Promise((r) => setTimeout(r, 100));
      port = Number(fs.existsSync(portFile) ? fs.readFileSync(portFile, "utf8").trim() : 0);
    }
    let answered = false;
    for (let i = 0; i < 100 && !answered; i++) {
      answered = await fetch(`http://127.0.0.1:${port}/`).then(
        (r) => r.ok,
        () => false,
      );
      if (!answered) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(answered, `the server answers on port ${port}`);
    const cmdline = fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0");
    assert.deepEqual(cmdline.slice(1, 4), ["-m", "http.server", String(port)], "the wrapper replaced itself with the server (a signal to the job reaches it)");
  } finally {
    child.kill("SIGTERM");
  }
});

test("serve_on_node_port.py: bad use and a missing server program are clear errors", () => {
  const noPlaceholder = once(path.join(dir, "d.port"), ["echo", "hi"]);
  assert.equal(noPlaceholder.status, 2);
  assert.match(noPlaceholder.stderr, /COMMAND has no argument \{port\} to put the port in/);
  const noSeparator = spawnSync("python3", [wrapper, path.join(dir, "d.port"), "127.0.0.1", "echo", "{port}"], { encoding: "utf8" });
  assert.equal(noSeparator.status, 2);
  assert.match(noSeparator.stderr, /usage: serve_on_node_port\.py PORT_FILE BIND_HOST -- COMMAND/);
  const missing = once(path.join(dir, "e.port"), ["no-such-server-program", "{port}"]);
  assert.equal(missing.status, 127);
  assert.match(missing.stderr, /cannot run no-such-server-program/);
});
