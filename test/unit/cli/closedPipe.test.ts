import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stopQuietlyOnClosedPipe } from "../../../src/cli/closedPipe.js";

const moduleUrl = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../src/cli/closedPipe.js")).href;

/** Runs a process that writes ~8 MB to stdout, the reader closing its end after the first chunk (as `| head -1` does). */
async function writerClosedEarly(guarded: boolean): Promise<{ code: number | null; stderr: string }> {
  const script = `
    ${guarded ? `const { stopQuietlyOnClosedPipe } = await import(${JSON.stringify(moduleUrl)}); stopQuietlyOnClosedPipe(process.stdout);` : ""}
    const line = "x".repeat(1023) + "\\n";
    for (let i = 0; i < 8192; i++) process.stdout.write(line);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  child.stdout.once("data", () => child.stdout.destroy());
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  return { code, stderr };
}

test("a reader that closes the output early: without the guard an EPIPE stack trace and exit 1, with it a quiet exit 0", async () => {
  const bare = await writerClosedEarly(false);
  assert.notEqual(bare.code, 0, "the unguarded writer fails (what the CLI did)");
  assert.match(bare.stderr, /EPIPE/);
  const guarded = await writerClosedEarly(true);
  assert.equal(guarded.code, 0);
  assert.equal(guarded.stderr, "");
});

test("only EPIPE is taken as a closed reader; any other stream error still surfaces", () => {
  const stream = new EventEmitter();
  const exits: number[] = [];
  stopQuietlyOnClosedPipe(stream, (code) => exits.push(code));
  stream.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
  assert.deepEqual(exits, [0]);
  assert.throws(() => stream.emit("error", Object.assign(new Error("write EIO"), { code: "EIO" })), /EIO/);
  assert.deepEqual(exits, [0]);
});
