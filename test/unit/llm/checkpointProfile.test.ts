/** The stand-in checkpoint profile: parsing, clear errors naming the file and field, per-tool scales. */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import {
  CHECKPOINT_PROFILE_FORMAT,
  CheckpointProfileError,
  describeCheckpointProfile,
  loadCheckpointProfile,
  mistakeRateScaleFor,
  parseCheckpointProfile,
} from "../../../src/llm/simulator/checkpointProfile.js";

const VALID = {
  simulated: true,
  note: "stand-in trainer: nothing was trained",
  format: CHECKPOINT_PROFILE_FORMAT,
  steps: 12,
  trainedTools: { get_weather: 40 },
  mistakeRateScale: { get_weather: 0.25 },
  defaultMistakeRateScale: 1.0,
  meanReward: 0.71,
};

test("a valid profile parses; scales apply per tool, the default to others", () => {
  const p = parseCheckpointProfile(JSON.stringify(VALID), "p.json");
  assert.equal(p.steps, 12);
  assert.equal(mistakeRateScaleFor(p, "get_weather"), 0.25);
  assert.equal(mistakeRateScaleFor(p, "get_stock_price"), 1);
  // A tool named like an Object.prototype member is not trained by accident.
  assert.equal(mistakeRateScaleFor(p, "constructor"), 1);
  const noDefault = parseCheckpointProfile(JSON.stringify({ ...VALID, defaultMistakeRateScale: undefined }), "p.json");
  assert.equal(noDefault.defaultMistakeRateScale, 1);
  const line = describeCheckpointProfile({ file: "m/toolloop_profile.json", profile: p });
  assert.match(line, /SIMULATED policy of a stand-in checkpoint/);
  assert.match(line, /get_weather x0\.25/);
});

test("bad profiles fail with the file and the field in the message", () => {
  const cases: [unknown, RegExp][] = [
    [{ ...VALID, simulated: false }, /simulated: expected true/],
    [{ ...VALID, format: "other/v9" }, /format: expected "toolloop-standin-profile\/v1"/],
    [{ ...VALID, mistakeRateScale: { get_weather: 1.5 } }, /mistakeRateScale\.get_weather: expected a number between 0 and 1/],
    [{ ...VALID, mistakeRateScale: { get_weather: "low" } }, /mistakeRateScale\.get_weather/],
    [{ ...VALID, trainedTools: { get_weather: -1 } }, /trainedTools\.get_weather: expected a non-negative integer/],
    [{ ...VALID, steps: 1.5 }, /steps: expected a non-negative integer/],
    [{ ...VALID, meanReward: undefined }, /meanReward: expected a number/],
    [[1, 2], /\(the file\)/],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => parseCheckpointProfile(JSON.stringify(value), "/ckpt/toolloop_profile.json"),
      (err: unknown) =>
        err instanceof CheckpointProfileError && err.message.startsWith("--checkpoint-profile /ckpt/toolloop_profile.json: ") && message.test(err.message),
      String(message),
    );
  }
  assert.throws(() => parseCheckpointProfile("{not json", "x.json"), /^CheckpointProfileError: --checkpoint-profile: x\.json: invalid JSON at line 1 column 2/);
});

test("loading: a missing file and an oversized one are clear errors, a real file loads", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "profile-"));
  try {
    await assert.rejects(
      loadCheckpointProfile(path.join(dir, "missing.json")),
      /--checkpoint-profile: file not found: .*missing\.json \(is this a stand-in checkpoint\?\)/,
    );
    const big = path.join(dir, "big.json");
    fs.writeFileSync(big, " ".repeat(5 * 1024 * 1024));
    await assert.rejects(loadCheckpointProfile(big), /--checkpoint-profile: .*big\.json is 5 MiB; a checkpoint profile may be at most 4 MiB/);
    await assert.rejects(loadCheckpointProfile(dir), /--checkpoint-profile: .* is a directory, not a JSON file/);
    const good = path.join(dir, "toolloop_profile.json");
    fs.writeFileSync(good, JSON.stringify(VALID));
    const loaded = await loadCheckpointProfile(good);
    assert.equal(loaded.file, good);
    assert.deepEqual(loaded.profile.trainedTools, { get_weather: 40 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
