import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { DELETED_NOTE_FILE, deleteCheckpoints, diskBytes, mergedModelPresent } from "../../../src/training/checkpointRetention.js";
import { latestCheckpointStep } from "../../../src/training/jobOutputs.js";
import { formatBytes } from "../../../src/util/jsonFile.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-retention-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** verl's layout: global_step_N/actor/<shards>, the latest-step file; sizes in bytes per step. */
function checkpointFolder(name: string, steps: Record<number, number>, extra: string[] = []): string {
  const root = path.join(dir, name);
  for (const [step, bytes] of Object.entries(steps)) {
    const actor = path.join(root, `global_step_${step}`, "actor");
    fs.mkdirSync(actor, { recursive: true });
    fs.writeFileSync(path.join(actor, "model_world_size_2_rank_0.pt"), Buffer.alloc(bytes - 100));
    fs.writeFileSync(path.join(actor, "optim_world_size_2_rank_0.pt"), Buffer.alloc(100));
  }
  for (const e of extra) fs.mkdirSync(path.join(root, e), { recursive: true });
  fs.writeFileSync(path.join(root, "latest_checkpointed_iteration.txt"), String(Math.max(...Object.keys(steps).map(Number))));
  return root;
}

function mergedModel(name: string, complete = true): string {
  const m = path.join(dir, name);
  fs.mkdirSync(m, { recursive: true });
  if (complete) fs.writeFileSync(path.join(m, "config.json"), "{}");
  return m;
}

test("deleteCheckpoints frees every saved step once the merged model is in place, says so in the folder, and is idempotent", async () => {
  const ckpt = checkpointFolder("grpo", { 4: 3000, 8: 5000, 12: 7000 }, ["global_step_16.tmp.4242"]);
  const merged = mergedModel("merged");
  assert.equal(await diskBytes(ckpt), 15_000 + 2);

  const d = await deleteCheckpoints(ckpt, merged, new Date("2026-12-06T15:00:00Z"));
  assert.deepEqual(d, { dir: ckpt, steps: [4, 8, 12], bytes: 15_000, at: "2026-12-06T15:00:00.000Z", mergedModel: merged });
  assert.deepEqual(fs.readdirSync(ckpt), [DELETED_NOTE_FILE], "steps, the half-written one and the latest file are gone");
  assert.equal(await latestCheckpointStep(ckpt), undefined, "a later job on the folder trains from the start");
  const note = fs.readFileSync(path.join(ckpt, DELETED_NOTE_FILE), "utf8");
  assert.match(note, /global_step_4, global_step_8, global_step_12; 14\.6 KiB\) were deleted on 2026-12-06T15:00:00\.000Z/);
  assert.ok(note.includes(merged));

  const again = await deleteCheckpoints(ckpt, merged);
  assert.deepEqual([again.steps, again.bytes], [[], 0]);
  assert.deepEqual(fs.readdirSync(ckpt), [DELETED_NOTE_FILE]);
});

test("deleteCheckpoints keeps everything when the merged model is missing or incomplete", async () => {
  const ckpt = checkpointFolder("kept", { 2: 1000 });
  for (const merged of [path.join(dir, "no-such-model"), mergedModel("half-merged", false)]) {
    await assert.rejects(deleteCheckpoints(ckpt, merged), (err: Error) => {
      assert.match(err.message, new RegExp(`the checkpoints under .*kept were kept: the merged model .* has no config\\.json`));
      return true;
    });
    assert.equal(await latestCheckpointStep(ckpt), 2);
    assert.ok(fs.existsSync(path.join(ckpt, "global_step_2", "actor")));
  }
  assert.equal(await mergedModelPresent(path.join(dir, "half-merged")), false);
});

test("deleteCheckpoints on a folder that is not there frees nothing; sizes read in the largest unit", async () => {
  const d = await deleteCheckpoints(path.join(dir, "never-made"), mergedModel("m2"));
  assert.deepEqual([d.steps, d.bytes], [[], 0]);
  assert.equal(fs.existsSync(path.join(dir, "never-made")), false);
  assert.equal(formatBytes(512), "512 bytes");
  assert.equal(formatBytes(3 * 1024 ** 3), "3 GiB");
  assert.equal(formatBytes(1.5 * 1024 ** 4), "1.5 TiB");
  assert.equal(formatBytes(5 * 1024 * 1024 + 1), "5.0 MiB");
});
