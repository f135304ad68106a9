import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { parseCampaignConfig } from "../../../src/config/campaignConfig.js";
import { BUILD_INFO_FILE, codeVersion, readCodeVersion, readCommittedAt, writeBuildInfo } from "../../../src/provenance/codeVersion.js";
import { campaignProvenance, exportProvenance, redactedUrl, roleProvenance, sampleProvenance } from "../../../src/provenance/provenance.js";

function config() {
  const r = parseCampaignConfig({
    name: "p",
    seed: 11,
    endpoints: {
      sim: { baseUrl: "http://127.0.0.1:8000/v1", apiKeyEnv: "TOOLLOOP_TEST_PROV_KEY" },
      // A config refuses user info, query and fragment in a URL (src/config/fields.ts serviceUrl); a
      // trailing slash is dropped from the recorded URL.
      remote: { baseUrl: "https://api.example.com/v1/" },
    },
    roles: { generator: { endpoint: "sim", model: "gen" }, judge: { endpoint: "remote", model: "judge-m" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "synthesize.singleTurn", count: 1 }],
  });
  if (!r.ok) throw r.error;
  return r.config;
}

test("URLs are recorded without user info, query or fragment", () => {
  assert.equal(redactedUrl("https://user:s3cret@api.example.com/v1?api-key=s3cret#frag"), "https://api.example.com/v1");
  assert.equal(redactedUrl("http://127.0.0.1:8000/v1/"), "http://127.0.0.1:8000/v1");
  assert.equal(redactedUrl("not a url"), "(unparsable URL)");
});

test("role, sample and export provenance name models and endpoints, never keys or key variables", () => {
  process.env.TOOLLOOP_TEST_PROV_KEY = "sk-planted-unit-key";
  const c = config();
  assert.deepEqual(roleProvenance(c, "judge"), { model: "judge-m", endpoint: "remote", baseUrl: "https://api.example.com/v1" });
  assert.equal(roleProvenance(c, "policy"), undefined);
  const base = campaignProvenance({
    campaignId: "camp",
    config: c,
    stored: { sha256: "ab".repeat(32), version: 2 },
    code: { package: "toolloop", version: "0.1.0", commit: "c".repeat(40), dirty: false },
  });
  const sample = sampleProvenance(base, {
    config: c,
    iteration: 3,
    stage: "synthesize.singleTurn",
    roles: ["generator"],
    simulatedRoles: new Set(["generator"]),
  });
  assert.deepEqual(sample, {
    campaignId: "camp",
    seed: 11,
    config: { sha256: "ab".repeat(32), version: 2 },
    code: { version: "0.1.0", commit: "c".repeat(40) },
    iteration: 3,
    stage: "synthesize.singleTurn",
    roles: { generator: { model: "gen", endpoint: "sim", baseUrl: "http://127.0.0.1:8000/v1" } },
    simulated: true,
  });
  assert.equal(sampleProvenance(base, { config: c, iteration: 3, stage: "s", roles: ["judge"], simulatedRoles: new Set(["generator"]) }).simulated, false);
  assert.equal(
    sampleProvenance(base, { config: c, iteration: 3, stage: "s", roles: ["judge"], simulatedRoles: new Set(), alsoSimulated: true }).simulated,
    true,
    "a parent's simulated content keeps the mark",
  );
  const exp = exportProvenance(base, c, 3, { generator: true, judge: false });
  assert.equal(exp.simulated, true);
  assert.deepEqual(Object.keys(exp.roles), ["generator", "judge"]);
  const text = JSON.stringify([sample, exp]);
  for (const secret of ["sk-planted-unit-key", "TOOLLOOP_TEST_PROV_KEY", "s3cret", "user:"]) assert.ok(!text.includes(secret), `no ${secret} in provenance`);
});

test("a manifest's simulatedRoles: every configured role, a role that has not asked yet counted by its endpoint (iteration 1's judge and policy)", () => {
  const r = parseCampaignConfig({
    name: "p",
    seed: 1,
    endpoints: {
      sim: { baseUrl: "http://127.0.0.1:8000/v1" },
      alsoSim: { baseUrl: "http://127.0.0.1:8000/v1/" },
      remote: { baseUrl: "https://api.example.com/v1" },
    },
    roles: {
      generator: { endpoint: "sim", model: "gen" },
      judge: { endpoint: "sim", model: "judge-m" },
      policy: { endpoint: "alsoSim", model: "pol" },
      user: { endpoint: "remote", model: "user-m" },
    },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "synthesize.singleTurn", count: 1 }],
  });
  if (!r.ok) throw r.error;
  const base = campaignProvenance({
    campaignId: "camp",
    config: r.config,
    stored: undefined,
    code: { package: "toolloop", version: "0.1.0", commit: null, dirty: null },
  });
  // Iteration 1's export: only the generator has asked, and the simulator answered it on sim (the same URL as alsoSim).
  assert.deepEqual(exportProvenance(base, r.config, 1, { generator: true }).simulatedRoles, { generator: true, judge: true, policy: true, user: false });
  // A role that asked counts by its own answers, whatever its endpoint answered others; a role the config no longer has keeps its flag.
  assert.deepEqual(exportProvenance(base, r.config, 2, { generator: true, judge: false, retired: true }).simulatedRoles, {
    generator: true,
    judge: false,
    policy: true,
    retired: true,
    user: false,
  });
  const none = exportProvenance(base, r.config, 1, {});
  assert.deepEqual(none.simulatedRoles, { generator: false, judge: false, policy: false, user: false });
  assert.equal(none.simulated, false);
});

test("code version: TOOLLOOP_GIT_COMMIT, then dist/build-info.json, then git; no git means commit null, not a crash", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-codeversion-"));
  try {
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "toolloop", version: "9.8.7" }));
    assert.deepEqual(readCodeVersion(dir, {}), { package: "toolloop", version: "9.8.7", commit: null, dirty: null }, "not a checkout (as the Docker image)");
    fs.mkdirSync(path.join(dir, "dist"));
    fs.writeFileSync(path.join(dir, "dist", BUILD_INFO_FILE), JSON.stringify({ commit: "d".repeat(40), dirty: false }));
    assert.equal(readCodeVersion(dir, {}).commit, "d".repeat(40));
    assert.equal(readCodeVersion(dir, { TOOLLOOP_GIT_COMMIT: "E".repeat(40) }).commit, "e".repeat(40));
    assert.equal(readCodeVersion(dir, { TOOLLOOP_GIT_COMMIT: "not-a-commit" }).commit, "d".repeat(40), "a malformed override is ignored");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // This checkout: the package version, and the commit of the build or of HEAD.
  const here = codeVersion();
  assert.equal(here.version, JSON.parse(fs.readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")).version);
  let head: string | undefined;
  try {
    head = execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    head = undefined;
  }
  if (head) assert.match(here.commit ?? "", /^[0-9a-f]{40}$/);
});

test("build info records the commit's own time (git's committer date, or TOOLLOOP_GIT_COMMIT_TIME without git); a rebuild keeps it", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-committime-"));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  try {
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "toolloop", version: "9.8.7" }));
    // Not a checkout (the Docker build): the build args, else unknown.
    const docker = writeBuildInfo(dir, { TOOLLOOP_GIT_COMMIT: "a".repeat(40), TOOLLOOP_GIT_COMMIT_TIME: "2026-11-30T09:15:00+01:00" });
    assert.deepEqual(docker, { commit: "a".repeat(40), dirty: null, committedAt: "2026-11-30T08:15:00.000Z" });
    assert.equal(readCommittedAt(dir, {}, "a".repeat(40))?.toISOString(), "2026-11-30T08:15:00.000Z", "read back from dist/build-info.json");
    assert.equal(readCommittedAt(dir, {}, "b".repeat(40)), null, "build-info's time is only its own commit's");
    assert.equal(writeBuildInfo(dir, { TOOLLOOP_GIT_COMMIT: "a".repeat(40) }).committedAt, null, "no TOOLLOOP_GIT_COMMIT_TIME: unknown");
    assert.equal(
      writeBuildInfo(dir, { TOOLLOOP_GIT_COMMIT: "a".repeat(40), TOOLLOOP_GIT_COMMIT_TIME: "yesterday-ish" }).committedAt,
      null,
      "not a time: unknown",
    );
    // A checkout: the commit's committer date, the same however often and whenever it is built.
    git("init", "-q");
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", "package.json");
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"], {
      cwd: dir,
      env: { ...process.env, GIT_COMMITTER_DATE: "2026-10-01T12:00:00Z", GIT_AUTHOR_DATE: "2026-09-01T12:00:00Z" },
      stdio: "ignore",
    });
    const first = writeBuildInfo(dir, {});
    assert.equal(first.committedAt, "2026-10-01T12:00:00.000Z");
    assert.equal(writeBuildInfo(dir, {}).committedAt, first.committedAt);
    fs.rmSync(path.join(dir, "dist"), { recursive: true });
    assert.equal(readCommittedAt(dir, {}, first.commit)?.toISOString(), "2026-10-01T12:00:00.000Z", "without build-info, git is asked");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
