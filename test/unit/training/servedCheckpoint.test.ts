/**
 * The served checkpoint's identity: the folder's fingerprint changes when a retrain rewrites it (even
 * a shard of the same size) and not when nothing changed; unreadable folders and odd stored values
 * give an answer, never a crash.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { checkpointFingerprint, sameServedCheckpoint, servedCheckpointOf } from "../../../src/training/servedCheckpoint.js";

function folder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-fingerprint-"));
  fs.mkdirSync(path.join(dir, "sub"));
  fs.writeFileSync(path.join(dir, "config.json"), '{"hidden_size": 8}');
  fs.writeFileSync(path.join(dir, "sub", "model-00001.safetensors"), Buffer.alloc((1 << 20) + 10, 1));
  return dir;
}

test("checkpointFingerprint: stable for an unchanged folder, new after a rewrite of a small file or a same-sized shard", async () => {
  const dir = folder();
  try {
    const a = await checkpointFingerprint(dir);
    assert.match(a ?? "", /^sha256:[0-9a-f]{64}$/);
    assert.equal(await checkpointFingerprint(dir), a, "reading it again changes nothing");

    fs.writeFileSync(path.join(dir, "config.json"), '{"hidden_size": 9}');
    const b = await checkpointFingerprint(dir);
    assert.notEqual(b, a, "a small file is hashed whole");

    // A large shard is not read: the same size, written again (a retrain), is told by its mtime.
    const shard = path.join(dir, "sub", "model-00001.safetensors");
    fs.writeFileSync(shard, Buffer.alloc((1 << 20) + 10, 2));
    fs.utimesSync(shard, new Date(), new Date(Date.now() + 5000));
    assert.notEqual(await checkpointFingerprint(dir), b);

    assert.equal(await checkpointFingerprint(path.join(dir, "missing")), null, "an unreadable folder has no fingerprint");
    assert.match((await checkpointFingerprint(path.join(dir, "config.json"))) ?? "", /^sha256:/, "a file (a single-file checkpoint) has one");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("servedCheckpointOf and sameServedCheckpoint: the version id, folder, fingerprint and engine must all agree", () => {
  const row = { id: "c:1:served", path: "/m", jobName: "job-a1", details: { engine: "vllm", checkpoint: { path: "/m", fingerprint: "sha256:1" } } };
  const current = servedCheckpointOf(row);
  assert.deepEqual(current, { modelVersionId: "c:1:served", path: "/m", fingerprint: "sha256:1", engine: "vllm" });
  assert.equal(sameServedCheckpoint(JSON.parse(JSON.stringify(current)), current), true, "what was stored as JSON matches");
  assert.equal(sameServedCheckpoint({ ...current, fingerprint: "sha256:2" }, current), false, "a retrain under the same id");
  assert.equal(sameServedCheckpoint({ ...current, modelVersionId: "c:2:served" }, current), false);
  assert.equal(sameServedCheckpoint({ ...current, engine: "simulator" }, current), false);
  assert.equal(sameServedCheckpoint(undefined, current), false, "a result stored before identities were kept is measured again");
  assert.equal(sameServedCheckpoint("sha256:1", current), false);
  // The configured policy: only results that name no served checkpoint.
  assert.equal(sameServedCheckpoint(undefined, null), true);
  assert.equal(sameServedCheckpoint(null, null), true);
  assert.equal(sameServedCheckpoint(current, null), false);

  // A row served before fingerprints were kept (or with odd details): told apart by its server job.
  assert.equal(servedCheckpointOf({ ...row, details: { engine: "vllm" } }).fingerprint, "unfingerprinted:job-a1");
  assert.equal(servedCheckpointOf({ ...row, details: [1, 2] }).fingerprint, "unfingerprinted:job-a1");
  assert.deepEqual(servedCheckpointOf({ ...row, jobName: null, details: { checkpoint: { fingerprint: 7 }, engine: 3 } }), {
    modelVersionId: "c:1:served",
    path: "/m",
    fingerprint: "unfingerprinted:unknown-job",
    engine: null,
  });
});
