import assert from "node:assert/strict";
import { test } from "node:test";
import { STAGE_SPECS } from "../../../src/stages/specs.js";
import {
  CONFIG_LIMITS,
  CONFIG_TOO_LARGE,
  configSizeIssue,
  formatPath,
  MAX_REPORTED_ISSUES,
  parseCampaignConfig,
  type CampaignConfigInput,
} from "../../../src/config/campaignConfig.js";

const valid = (): CampaignConfigInput => ({
  name: "unit",
  endpoints: { sim: { baseUrl: "http://127.0.0.1:8000/v1" } },
  roles: { generator: { endpoint: "sim", model: "sim-model" } },
  tools: { sources: [{ kind: "example" }] },
  stages: [{ name: "synthesize.singleTurn", count: 10 }, { name: "verify.rules" }, { name: "export.dataset" }],
});

function issues(input: unknown): string[] {
  const r = parseCampaignConfig(input);
  assert.equal(r.ok, false, "expected the config to be rejected");
  return r.ok ? [] : r.error.issues.map((i) => `${i.path}: ${i.message}`);
}

test("a minimal config parses and gets defaults", () => {
  const r = parseCampaignConfig(valid());
  assert.ok(r.ok);
  assert.equal(r.config.iterations, 1);
  assert.equal(r.config.onStageFailure, "wait");
  const synth = r.config.stages[0];
  assert.equal(synth?.name, "synthesize.singleTurn");
  assert.equal(synth?.batchSize, 1000);
  assert.deepEqual(r.config.endpoints.sim?.maxConcurrency, 16);
});

test("a bad batch size names the path: stages[2].batchSize", () => {
  const cfg = valid() as { stages: Record<string, unknown>[] };
  cfg.stages[2] = { name: "export.dataset", batchSize: -3 };
  assert.deepEqual(issues(cfg), ["stages[2].batchSize: expected a positive integer"]);
  cfg.stages[2] = { name: "export.dataset", batchSize: 2.5 };
  assert.deepEqual(issues(cfg), ["stages[2].batchSize: expected a positive integer"]);
  cfg.stages[2] = { name: "export.dataset", batchSize: "10" };
  assert.deepEqual(issues(cfg), ["stages[2].batchSize: expected a positive integer"]);
});

test("unknown stage names are rejected, not ignored", () => {
  const cfg = valid() as { stages: Record<string, unknown>[] };
  cfg.stages.push({ name: "train.dpo" });
  const msgs = issues(cfg);
  assert.equal(msgs.length, 1);
  assert.match(
    msgs[0] as string,
    // Every built-in stage, in spec order (derived, so adding a stage does not edit this test).
    new RegExp(
      `^stages\\[3\\](\\.name)?: unknown stage name; expected one of ${STAGE_SPECS.map((x) => JSON.stringify(x.name))
        .join(", ")
        .replaceAll(".", "\\.")}$`,
    ),
  );
});

test("unknown fields are rejected with their path", () => {
  const cfg = { ...valid(), stages: [{ name: "verify.rules", batchsize: 10 }] };
  const msgs = issues(cfg);
  assert.equal(msgs.length, 1);
  assert.match(msgs[0] as string, /^stages\[0\]: .*batchsize/);
});

test("a role pointing at an undefined endpoint is rejected", () => {
  const cfg = { ...valid(), roles: { generator: { endpoint: "nope", model: "m" } } };
  assert.deepEqual(issues(cfg), ['roles.generator.endpoint: unknown endpoint "nope"; defined: sim']);
});

test("duplicate stages, empty stage list, bad URL, bad mix are each reported", () => {
  assert.match(
    issues({ ...valid(), stages: [{ name: "verify.rules" }, { name: "verify.rules" }] })[0] as string,
    /^stages\[1\]\.name: duplicate stage "verify.rules"/,
  );
  assert.deepEqual(issues({ ...valid(), stages: [] }), ["stages: expected at least one stage"]);
  assert.deepEqual(issues({ ...valid(), endpoints: { sim: { baseUrl: "not a url" } } }), [
    "endpoints.sim.baseUrl: expected an http: or https: URL such as http://127.0.0.1:8000/v1",
  ]);
  assert.deepEqual(issues({ ...valid(), stages: [{ name: "synthesize.singleTurn", count: 5, mix: { standard: 0, parallel: 0, irrelevance: 0 } }] }), [
    "stages[0].mix: expected at least one proportion above 0",
  ]);
  assert.deepEqual(issues({ ...valid(), stages: [{ name: "synthesize.singleTurn", count: 5, mix: { standard: 1.5 } }] }), [
    "stages[0].mix.standard: expected a number between 0 and 1",
  ]);
});

test("non-object input is rejected at the root", () => {
  assert.equal(issues(null).length, 1);
  assert.match(issues(null)[0] as string, /^\(root\): /);
  assert.match(issues("x")[0] as string, /^\(root\): /);
});

test("endpoint lookups are own-property checks: built-in names are unknown endpoints, not Object.prototype's", () => {
  for (const ref of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    const cfg = { ...valid(), roles: { generator: { endpoint: ref, model: "m" } } };
    assert.deepEqual(issues(cfg), [`roles.generator.endpoint: unknown endpoint ${JSON.stringify(ref)}; defined: sim`], ref);
  }
});

test("built-in object property names are refused as endpoint names, __proto__ included", () => {
  const named = (n: string) => JSON.parse(`{"${n}": {"baseUrl": "http://127.0.0.1:8000/v1"}}`) as Record<string, unknown>;
  for (const n of ["constructor", "toString", "__proto__", "prototype"]) {
    const cfg = { ...valid(), endpoints: { ...named(n), sim: { baseUrl: "http://127.0.0.1:8000/v1" } } };
    const msgs = issues(cfg);
    assert.equal(msgs.length, 1, `${n}: ${msgs.join(" | ")}`);
    assert.match(msgs[0] as string, new RegExp(`^endpoints\\.${n}: (invalid name: )?"${n}" is a reserved name`));
  }
});

test("a __proto__ key is refused wherever the JSON text has one, not dropped (records with user keys, fixed objects)", () => {
  const reserved = '"__proto__" is a reserved name (it collides with a built-in JavaScript object property); choose another name';
  const text = JSON.stringify({
    ...valid(),
    roles: { generator: { endpoint: "sim", model: "m" }, PROTO: { endpoint: "sim", model: "x" } },
    tools: { sources: [{ kind: "example" }], PROTO: 1 },
    stages: [...valid().stages, { name: "train.sft", baseModel: "m", env: { A: "1", PROTO: "z" } }],
    cluster: { launcher: { kind: "ray", address: "http://127.0.0.1:8265", headers: { PROTO: "x" }, runtimeEnv: { envVars: { PROTO: "y" } } } },
  });
  // JSON.parse keeps "__proto__" as an own key; an object literal here would set the prototype instead.
  assert.deepEqual(issues(JSON.parse(text.replaceAll('"PROTO"', '"__proto__"'))), [
    `roles.__proto__: ${reserved}`,
    `tools.__proto__: ${reserved}`,
    `stages[3].env.__proto__: ${reserved}`,
    `cluster.launcher.headers.__proto__: ${reserved}`,
    `cluster.launcher.runtimeEnv.envVars.__proto__: ${reserved}`,
  ]);
  // Any other key: the records take it, the fixed object names it as unknown (once, not twice).
  assert.deepEqual(issues(JSON.parse(text.replaceAll('"PROTO"', '"other"'))), ['tools: unknown field "other"']);
});

test("baseUrl must be http: or https:", () => {
  for (const url of ["javascript:alert(1)", "file:///etc/passwd", "ftp://host/v1", "data:text/plain,x"]) {
    assert.deepEqual(
      issues({ ...valid(), endpoints: { sim: { baseUrl: url } } }),
      ["endpoints.sim.baseUrl: expected an http: or https: URL such as http://127.0.0.1:8000/v1"],
      url,
    );
  }
  assert.ok(parseCampaignConfig({ ...valid(), endpoints: { sim: { baseUrl: "https://api.example.com/v1" } } }).ok);
  const long = `http://h/${"a".repeat(2100)}`;
  assert.deepEqual(issues({ ...valid(), endpoints: { sim: { baseUrl: long } } }), ["endpoints.sim.baseUrl: expected at most 2048 characters (a URL)"]);
});

test("service URLs carry no credentials, query or fragment, and the message does not repeat them", () => {
  const cases: [string, RegExp][] = [
    ["http://user:s3cret@127.0.0.1:8000/v1", /^endpoints\.sim\.baseUrl: must not carry a user name or password/],
    ["http://token@127.0.0.1:8000/v1", /^endpoints\.sim\.baseUrl: must not carry a user name or password/],
    ["http://127.0.0.1:8000/v1?api_key=s3cret", /^endpoints\.sim\.baseUrl: must not carry a query/],
    ["http://127.0.0.1:8000/v1?", /^endpoints\.sim\.baseUrl: must not carry a query/],
    ["http://127.0.0.1:8000/v1#s3cret", /^endpoints\.sim\.baseUrl: must not carry a fragment/],
  ];
  for (const [url, expected] of cases) {
    const msgs = issues({ ...valid(), endpoints: { sim: { baseUrl: url } } });
    assert.equal(msgs.length, 1, `${url}: ${msgs.join(" | ")}`);
    assert.match(msgs[0] as string, expected, url);
    assert.doesNotMatch(msgs[0] as string, /s3cret|token@/, "the message does not repeat the secret");
  }
  // All three are found at once.
  assert.equal(issues({ ...valid(), endpoints: { sim: { baseUrl: "http://u:p@h/v1?q=1#f" } } }).length, 3);
  // The same rule for the Ray dashboard and an external reward service.
  const cluster = (c: unknown) => issues({ ...valid(), cluster: c });
  assert.match(
    cluster({ launcher: { kind: "ray", address: "http://u:p@127.0.0.1:8265" } }).join("\n"),
    /^cluster\.launcher\.address: must not carry a user name or password/,
  );
  assert.match(cluster({ rewardService: { url: "http://10.0.0.5:8900/?k=1" } }).join("\n"), /^cluster\.rewardService\.url: must not carry a query/);
  assert.ok(parseCampaignConfig({ ...valid(), endpoints: { sim: { baseUrl: "https://api.example.com:8443/openai/v1" } } }).ok);
});

test("every count has an upper bound with a message naming the field", () => {
  const ep = (over: Record<string, unknown>) => ({ ...valid(), endpoints: { sim: { baseUrl: "http://127.0.0.1:8000/v1", ...over } } });
  assert.deepEqual(issues(ep({ maxRetries: 21 })), ["endpoints.sim.maxRetries: expected at most 20"]);
  assert.deepEqual(issues(ep({ timeoutMs: 3_600_001 })), ["endpoints.sim.timeoutMs: expected at most 3600000 (one hour)"]);
  assert.deepEqual(issues(ep({ maxConcurrency: 4097 })), ["endpoints.sim.maxConcurrency: expected at most 4096"]);
  assert.deepEqual(issues(ep({ apiKeyEnv: "sk-abc123" })), [
    "endpoints.sim.apiKeyEnv: expected an environment variable name (a letter or '_', then letters, digits or '_'; at most 128), not the key itself",
  ]);
  assert.ok(parseCampaignConfig(ep({ maxRetries: 20, timeoutMs: 3_600_000, maxConcurrency: 4096, apiKeyEnv: "OPENAI_API_KEY" })).ok);

  const role = (over: Record<string, unknown>) => ({ ...valid(), roles: { generator: { endpoint: "sim", model: "m", ...over } } });
  assert.deepEqual(issues(role({ maxTokens: 131_073 })), ["roles.generator.maxTokens: expected at most 131072"]);
  assert.deepEqual(issues(role({ model: "m".repeat(257) })), ["roles.generator.model: expected at most 256 characters (a model name)"]);
  assert.deepEqual(issues(role({ temperature: 3 })), ["roles.generator.temperature: expected a number between 0 and 2"]);

  assert.deepEqual(issues({ ...valid(), iterations: 10_001 }), ["iterations: expected at most 10000"]);
  assert.match(issues({ ...valid(), seed: 2 ** 53 })[0] as string, /^seed: /);
  assert.ok(parseCampaignConfig({ ...valid(), seed: Number.MAX_SAFE_INTEGER }).ok);
  assert.deepEqual(issues({ ...valid(), stages: [{ name: "synthesize.singleTurn", count: 1_000_001, batchSize: 2000 }] }), [
    "stages[0].count: expected at most 1000000 samples per iteration",
  ]);
  assert.deepEqual(
    issues({
      ...valid(),
      stages: [{ name: "evaluate.bfclFast", limitPerCategory: 100_001 }],
      roles: { ...valid().roles, policy: { endpoint: "sim", model: "m" } },
    }),
    ["stages[0].limitPerCategory: expected at most 100000"],
  );
  assert.deepEqual(issues({ ...valid(), output: { dir: "d".repeat(4097) } }), ["output.dir: expected at most 4096 characters (a path)"]);
  assert.deepEqual(issues({ ...valid(), tools: { sources: [{ kind: "mcp", path: "a\0b" }] } }), ["tools.sources[0].path: must not contain a NUL character"]);
});

test("non-finite and non-integer numbers are refused with one message: the field's bound where the number is an integer beyond it", () => {
  for (const v of [Number.NaN, Infinity, -Infinity, -1, -1e300, 0.5, 20_000.5])
    assert.deepEqual(issues({ ...valid(), iterations: v }), ["iterations: expected a positive integer"], String(v));
  // 1e300 and 2^53 are integers, though not safe ones: the bound says what to do, not "expected a positive integer" too.
  for (const v of [1e300, 2 ** 53]) assert.deepEqual(issues({ ...valid(), iterations: v }), ["iterations: expected at most 10000"], String(v));
  assert.deepEqual(issues({ ...valid(), seed: 1e300 }), ["seed: expected at most 9007199254740991"]);
});

test("a field's own problem is said once: cross-field checks of a refused value do not pile on", () => {
  const judges = (committee: unknown) =>
    issues({
      ...valid(),
      roles: { ...valid().roles, judge: { endpoint: "sim", model: "j" } },
      stages: [...valid().stages, { name: "verify.judges", committee }],
    });
  assert.deepEqual(judges({ members: [{ role: "judge", samples: 1e9 }], consensus: 1 }), ["stages[3].committee.members[0].samples: expected at most 16"]);
  for (const consensus of [0, -1])
    assert.deepEqual(
      judges({ members: [{ role: "judge", samples: 3 }], consensus }),
      ["stages[3].committee.consensus: expected a positive integer"],
      String(consensus),
    );
  assert.deepEqual(judges({ members: [], consensus: 1 }), ["stages[3].committee.members: expected at least one judge"]);
  // With valid fields the vote count is checked, beside a duplicate role.
  assert.deepEqual(
    judges({
      members: [
        { role: "judge", samples: 2 },
        { role: "judge", samples: 2 },
      ],
      consensus: 1,
    }),
    [
      "stages[3].committee.consensus: consensus 1 of 4 votes lets two verdicts both reach it; use more than half (at least 3)",
      'stages[3].committee.members[1].role: judge role "judge" is already members[0]; list each role once and raise its samples instead',
    ],
  );
  const synth = (over: Record<string, unknown>) => issues({ ...valid(), stages: [{ name: "synthesize.singleTurn", count: 10, ...over }] });
  assert.deepEqual(synth({ mix: { standard: -1, parallel: 0, irrelevance: 0 } }), ["stages[0].mix.standard: expected a number between 0 and 1"]);
  assert.deepEqual(synth({ mix: { standard: 0, parallel: 0, irrelevance: 0 } }), ["stages[0].mix: expected at least one proportion above 0"]);
  const train = (watch: unknown) => issues({ ...valid(), stages: [...valid().stages, { name: "train.sft", baseModel: "m", watch }] });
  assert.deepEqual(train({ windowSeconds: 1, pollSeconds: 10 }), ["stages[3].watch.windowSeconds: expected at least 5"]);
  assert.deepEqual(train({ windowSeconds: 5, pollSeconds: 10 }), ["stages[3].watch: expected pollSeconds <= windowSeconds"]);
  const every = (intervals: unknown) => issues({ ...valid(), schedules: [{ id: "w", spec: { intervals } }] });
  assert.deepEqual(every([{ every: "0s", offset: "0s" }]), ["schedules[0].spec.intervals[0].every: expected at least 1s"]);
  assert.deepEqual(every([{ every: "1h", offset: "2h" }]), ["schedules[0].spec: expected each interval's offset to be below its every"]);
});

test("a stage may plan at most 10,000 batches; the message says how far to raise batchSize", () => {
  const cfg = {
    ...valid(),
    stages: [{ name: "synthesize.singleTurn", count: 1_000_000, batchSize: 1 }, { name: "verify.rules", batchSize: 10 }, { name: "export.dataset" }],
  };
  assert.deepEqual(issues(cfg), [
    "stages[0].batchSize: would plan 1000000 batches (count 1000000 / batchSize 1); a stage may plan at most 10000: raise batchSize to at least 100",
    "stages[1].batchSize: would plan 100000 batches (1000000 samples from stages[0].count / batchSize 10); a stage may plan at most 10000: raise batchSize to at least 100",
  ]);
  // The default batchSize (1000) counts too: 1,000,000 / 1000 = 1,000 batches is fine.
  assert.ok(parseCampaignConfig({ ...valid(), stages: [{ name: "synthesize.singleTurn", count: 1_000_000 }] }).ok);
  assert.ok(parseCampaignConfig({ ...valid(), stages: [{ name: "synthesize.singleTurn", count: 10_000, batchSize: 1 }] }).ok);
});

test("arrays and records are bounded", () => {
  const sources = Array.from({ length: 257 }, () => ({ kind: "example" }));
  assert.deepEqual(issues({ ...valid(), tools: { sources } }), ["tools.sources: expected at most 256 tool sources"]);
  const endpoints = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`e${i}`, { baseUrl: "http://127.0.0.1:8000/v1" }]));
  assert.deepEqual(issues({ ...valid(), endpoints: { ...endpoints, sim: { baseUrl: "http://127.0.0.1:8000/v1" } } }), [
    "endpoints: expected at most 64 endpoints",
  ]);
  const stages = Array.from({ length: 65 }, () => ({ name: "verify.rules" }));
  assert.ok(issues({ ...valid(), stages }).includes("stages: expected at most 64 stages"));
  assert.deepEqual(
    issues({ ...valid(), endpoints: { ["e".repeat(64)]: { baseUrl: "http://127.0.0.1:8000/v1" }, sim: { baseUrl: "http://127.0.0.1:8000/v1" } } }),
    [`endpoints.${"e".repeat(64)}: invalid name: expected at most 63 characters (a name)`],
  );
});

test("every problem is reported at once, cross-field ones included, each with its path", () => {
  const cfg = {
    ...valid(),
    iterations: 0,
    endpoints: { sim: { baseUrl: "javascript:alert(1)", maxRetries: 99 } },
    roles: { generator: { endpoint: "nope", model: "m" } },
    stages: [{ name: "synthesize.singleTurn", count: 100_000, batchSize: 1 }, { name: "verify.rules", batchSize: "x" }, { name: "verify.rules" }],
  };
  assert.deepEqual(issues(cfg).sort(), [
    "endpoints.sim.baseUrl: expected an http: or https: URL such as http://127.0.0.1:8000/v1",
    "endpoints.sim.maxRetries: expected at most 20",
    "iterations: expected a positive integer",
    'roles.generator.endpoint: unknown endpoint "nope"; defined: sim',
    "stages[0].batchSize: would plan 100000 batches (count 100000 / batchSize 1); a stage may plan at most 10000: raise batchSize to at least 10",
    "stages[1].batchSize: expected a positive integer",
    'stages[2].name: duplicate stage "verify.rules" (also stages[1])',
  ]);
});

test("a config over 1 MiB of JSON is refused before the schema walks it", () => {
  const huge = { ...valid(), padding: "x".repeat(CONFIG_LIMITS.configBytes) };
  assert.deepEqual(issues(huge), [`(root): ${CONFIG_TOO_LARGE}`]);
  // Multi-byte characters count as bytes, not UTF-16 units.
  const nearly = { ...valid(), name: "a", padding: "é".repeat(CONFIG_LIMITS.configBytes / 2 - 100) };
  assert.equal(configSizeIssue(nearly), CONFIG_TOO_LARGE);
  assert.equal(configSizeIssue(valid()), undefined);
  const cyclic: Record<string, unknown> = { ...valid() };
  cyclic.self = cyclic;
  assert.match(issues(cyclic)[0] as string, /^\(root\): the config cannot be serialised as JSON/);
});

test("garbage inputs report a bounded number of issues", () => {
  const sources = Array.from({ length: 250 }, () => ({ kind: "nope" }));
  const msgs = issues({ ...valid(), tools: { sources } });
  assert.equal(msgs.length, MAX_REPORTED_ISSUES + 1);
  assert.match(msgs.at(-1) as string, /^\(root\): and \d+ more problems not listed$/);
});

test("formatPath quotes keys a dotted path would garble", () => {
  assert.equal(formatPath(["stages", 2, "batchSize"]), "stages[2].batchSize");
  assert.equal(formatPath(["endpoints", "my endpoint", "baseUrl"]), 'endpoints["my endpoint"].baseUrl');
  assert.equal(formatPath([]), "(root)");
  assert.match(formatPath(["endpoints", "k".repeat(100)]), /^endpoints\["k{64}"… \(100 characters\)\]$/);
});

test("runIn: seed stages run in the first iteration only, `later` stages from the second on; bad values are named", async () => {
  const { freezeCampaignConfig, planOf } = await import("../../../src/config/frozen.js");
  const raw = {
    ...valid(),
    iterations: 3,
    stages: [
      { name: "synthesize.singleTurn", count: 10, runIn: "first" },
      { name: "verify.rules", runIn: "first" },
      { name: "export.dataset", runIn: "later" },
      { name: "dedupe.exact" },
    ],
  };
  const f = freezeCampaignConfig(raw, { configDir: "." });
  assert.ok(f.ok);
  const names = (iteration: number) => planOf("c", f.frozen, 1, f.hash, iteration).stages.map((s) => s.name);
  assert.deepEqual(names(1), ["synthesize.singleTurn", "verify.rules", "dedupe.exact"]);
  assert.deepEqual(names(2), ["export.dataset", "dedupe.exact"]);
  assert.deepEqual(names(3), names(2));
  assert.equal(planOf("c", f.frozen, 1, f.hash).stages.length, 4, "without an iteration the plan lists every stage");
  // A config without runIn freezes exactly as before (no field appears in the scheduling).
  const plain = freezeCampaignConfig(valid(), { configDir: "." });
  assert.ok(plain.ok);
  assert.ok(plain.frozen.stages.every((s) => !("runIn" in s)));
  assert.deepEqual(issues({ ...valid(), stages: [{ name: "verify.rules", runIn: "sometimes" }] }), ['stages[0].runIn: expected "every", "first" or "later"']);
});

test("a judge committee's member roles must be configured, named by their path; consensus above the votes is refused", () => {
  const stage = (committee: unknown) => ({
    ...valid(),
    roles: { generator: { endpoint: "sim", model: "m" }, judge: { endpoint: "sim", model: "j" } },
    stages: [{ name: "expand.errors", committee }],
  });
  assert.ok(parseCampaignConfig(stage({ members: [{ role: "judge", samples: 3 }], consensus: 2 })).ok);
  assert.deepEqual(issues(stage({ members: [{ role: "judge" }, { role: "critic", samples: 2 }], consensus: 2 })), [
    'stages[0].committee.members[1].role: names the role "critic"; add roles.critic ({ "endpoint": ..., "model": ... })',
  ]);
  assert.match(
    issues(stage({ members: [{ role: "judge" }], consensus: 2 })).join("\n"),
    /stages\[0\]\.committee\.consensus: consensus 2 can never be reached: the committee casts 1 vote/,
  );
  assert.match(
    issues(stage({ members: [{ role: "judge", samples: 4 }], consensus: 2 })).join("\n"),
    /stages\[0\]\.committee\.consensus: .*more than half \(at least 3\)/,
  );
});

test("a pool weight that rounding to whole train rows changes is accepted with a warning naming the field", () => {
  const withWeights = (w: Record<string, number>) =>
    parseCampaignConfig({
      ...valid(),
      stages: [
        { name: "synthesize.singleTurn", count: 10 },
        { name: "select.nextRound", ...w },
      ],
    });
  const r = withWeights({ hardWeight: 2.4, easyWeight: 0.5 });
  assert.ok(r.ok);
  assert.deepEqual(r.warnings, [
    "stages[1].hardWeight: 2.4 becomes 2 train rows per item in export.verl (weights are whole repeats, at least 1 and at most 16: verl's parquet has no per-row weight)",
    "stages[1].easyWeight: 0.5 becomes 1 train row per item in export.verl (weights are whole repeats, at least 1 and at most 16: verl's parquet has no per-row weight)",
  ]);
  // export.verl repeats a sample at most 16 times: before, a whole weight above that was cut to 16 rows without a word.
  const capped = withWeights({ hardWeight: 40 });
  assert.ok(capped.ok);
  assert.deepEqual(capped.warnings, [
    "stages[1].hardWeight: 40 becomes 16 train rows per item in export.verl (weights are whole repeats, at least 1 and at most 16: verl's parquet has no per-row weight)",
  ]);
  const defaults = withWeights({});
  assert.ok(defaults.ok);
  assert.deepEqual(defaults.warnings, [], "the defaults (2 and 1) are whole");
  const whole = withWeights({ hardWeight: 3, easyWeight: 1 });
  assert.ok(whole.ok);
  assert.deepEqual(whole.warnings, []);
});

test("synthesize.multiTurn: a bad value of any field is refused with a message naming the field, never zod's generic text", () => {
  const multi = (over: Record<string, unknown>) =>
    issues({
      ...valid(),
      roles: {
        ...valid().roles,
        planner: { endpoint: "sim", model: "m" },
        user: { endpoint: "sim", model: "m" },
        assistant: { endpoint: "sim", model: "m" },
        toolServer: { endpoint: "sim", model: "m" },
      },
      stages: [{ name: "synthesize.multiTurn", dialogues: 4, ...over }],
    });
  const cases: [Record<string, unknown>, string][] = [
    [{ maxRejectedTurns: 1.5 }, "stages[0].maxRejectedTurns: expected a non-negative integer"],
    [{ maxRejectedTurns: "2" }, "stages[0].maxRejectedTurns: expected a non-negative integer"],
    [{ maxRejectedTurns: -1 }, "stages[0].maxRejectedTurns: expected a non-negative integer"],
    [{ maxRejectedTurns: 65 }, "stages[0].maxRejectedTurns: expected at most 64"],
    [{ keepUnfinished: 1 }, "stages[0].keepUnfinished: expected true or false"],
    [{ reflection: { enabled: "yes" } }, "stages[0].reflection.enabled: expected true or false"],
    [{ reflection: true }, 'stages[0].reflection: expected an object ({ "enabled": true })'],
    [{ voting: null }, "stages[0].voting: expected an object ({ k, m, temperature, negotiator })"],
    [{ turns: 7 }, "stages[0].turns: expected an object ({ mean, max })"],
    [{ toolsPerDialogue: [3, 6] }, "stages[0].toolsPerDialogue: expected an object ({ min, max })"],
    [{ needs: "single" }, "stages[0].needs: expected an object ({ single, multi, parallel })"],
    [{ voting: { k: 2, m: 3 } }, "stages[0].voting.m: m 3 can never be reached: only k = 2 candidates are sampled; use m <= k"],
    [{ turns: { mean: 9, max: 8 } }, "stages[0].turns.mean: expected mean <= max (mean 9, max 8)"],
    // A default the config never wrote is named with its value.
    [{ turns: { max: 1 } }, "stages[0].turns.mean: expected mean <= max (mean 7.5, max 1)"],
    [{ toolsPerDialogue: { min: 7 } }, "stages[0].toolsPerDialogue.min: expected min <= max (min 7, max 6)"],
  ];
  for (const [over, message] of cases) {
    const got = multi(over);
    assert.deepEqual(got, [message], JSON.stringify(over));
    assert.ok(!got.some((m) => m.includes("Invalid input")), JSON.stringify(over));
  }
});

test("a loopback reward service is refused, naming the field, only where the train.grpo job certainly runs on other machines", () => {
  const withGrpo = (cluster: unknown, nnodes = 1) => ({
    ...valid(),
    stages: [...valid().stages, { name: "train.grpo", baseModel: "m", grpo: { nnodes } }],
    cluster,
  });
  const slurm = { kind: "slurm", partition: "gpu" };
  const rayLocal = { kind: "ray", address: "http://127.0.0.1:8265" };
  const rayRemote = { kind: "ray", address: "http://ray-head.cluster:8265" };

  // Multi-node Slurm with the default host: refused at cluster.rewardService.host, saying what to set.
  const host = issues(withGrpo({ launcher: slurm }, 2));
  assert.equal(host.length, 1, host.join(" | "));
  assert.match(host[0] as string, /^cluster\.rewardService\.host: "127\.0\.0\.1" \(the default\) is where the worker hosts the reward service/);
  assert.match(host[0] as string, /the Slurm launcher runs the train\.grpo job on 2 nodes/);
  assert.match(
    host[0] as string,
    /Set cluster\.rewardService\.host to an address of the worker's machine that the cluster's nodes can reach .*or cluster\.rewardService\.url/,
  );
  // Written, and other spellings of "this machine only".
  for (const h of ["localhost", "127.0.1.1", "::1", "0.0.0.0", "::"]) {
    const msgs = issues(withGrpo({ launcher: slurm, rewardService: { host: h } }, 4));
    assert.equal(msgs.length, 1, `${h}: ${msgs.join(" | ")}`);
    assert.match(
      msgs[0] as string,
      new RegExp(`^cluster\\.rewardService\\.host: ${JSON.stringify(JSON.stringify(h)).slice(1, -1).replace(/[.:]/g, "\\$&")} is where`),
      h,
    );
  }
  // An external service given by a loopback URL: refused at cluster.rewardService.url.
  for (const url of ["http://127.0.0.1:8900", "http://localhost:8900", "http://[::1]:8900"]) {
    const msgs = issues(withGrpo({ launcher: slurm, rewardService: { url } }, 2));
    assert.equal(msgs.length, 1, `${url}: ${msgs.join(" | ")}`);
    assert.match(
      msgs[0] as string,
      /^cluster\.rewardService\.url: .* reaches only the machine that calls it, and the Slurm launcher runs the train\.grpo job on 2 nodes/,
    );
    assert.match(
      msgs[0] as string,
      /Set cluster\.rewardService\.url to an address of the reward service that the cluster's nodes can reach \(e\.g\. http:\/\/10\.0\.0\.5:8900\)/,
    );
  }
  // A Ray cluster reached at a non-loopback address runs the job on its own nodes, even one of them.
  assert.match(
    issues(withGrpo({ launcher: rayRemote })).join("\n"),
    /^cluster\.rewardService\.host: "127\.0\.0\.1" \(the default\) .*the Ray launcher runs the train\.grpo job on the nodes of the Ray cluster at ray-head\.cluster/,
  );
  assert.match(issues(withGrpo({ launcher: rayLocal }, 2)).join("\n"), /^cluster\.rewardService\.host: .*the Ray launcher runs the train\.grpo job on 2 nodes/);

  // What stays valid: routable addresses; the local launcher; one-node Slurm and Ray on loopback (the
  // test suite's clusters); and a config with no train.grpo, which calls no reward service.
  const ok = (cfg: unknown, why: string) => {
    const r = parseCampaignConfig(cfg);
    assert.ok(r.ok, `${why}: ${r.ok ? "" : r.error.message}`);
  };
  ok(withGrpo({ launcher: slurm, rewardService: { host: "10.0.0.5" } }, 2), "a routable host");
  ok(withGrpo({ launcher: slurm, rewardService: { url: "http://reward.cluster:8900" } }, 8), "a routable URL");
  ok(withGrpo({ launcher: rayRemote, rewardService: { host: "node-7.cluster" } }), "Ray with a routable host");
  ok(withGrpo({ launcher: { kind: "local" } }, 2), "the local launcher");
  ok(withGrpo({}, 1), "the default (local) launcher");
  ok(withGrpo({ launcher: slurm }, 1), "one-node Slurm on loopback");
  ok(withGrpo({ launcher: rayLocal }, 1), "one-node Ray on loopback");
  ok(withGrpo({ launcher: { kind: "ray", address: "http://localhost:8265" }, rewardService: { host: "127.0.0.1", port: 8900 } }, 1), "Ray on localhost");
  ok({ ...valid(), cluster: { launcher: rayRemote } }, "no train.grpo stage");
});

test("export.verl valFraction 0 beside verl's GRPO trainer is refused (verl stops on an empty validation set); the stand-in or a val_files override is accepted", () => {
  const withGrpo = (valFraction: number, grpo: Record<string, unknown> = {}) => ({
    ...valid(),
    stages: [...valid().stages, { name: "export.verl", valFraction }, { name: "train.grpo", baseModel: "m", ...grpo }],
  });
  assert.deepEqual(issues(withGrpo(0)), [
    "stages[3].valFraction: 0 leaves train.grpo (stages[4], trainer verl) an empty validation set, and verl's GRPO trainer stops before its first step " +
      "(`Validation dataloader is empty!`); use a valFraction above 0 (e.g. 0.05), or give verl a validation set in grpo.extraOverrides (data.val_files=...)",
  ]);
  assert.ok(parseCampaignConfig(withGrpo(0.05)).ok);
  assert.ok(parseCampaignConfig(withGrpo(0, { trainer: "standin" })).ok, "the stand-in skips an empty validation set");
  assert.ok(parseCampaignConfig(withGrpo(0, { grpo: { extraOverrides: ["data.val_files=/data/held-out.parquet"] } })).ok);
  // Without train.grpo (an export for a trainer of the user's own) nothing is asked.
  assert.ok(parseCampaignConfig({ ...valid(), stages: [...valid().stages, { name: "export.verl", valFraction: 0 }] }).ok);
});

test("serve.policy: vllm.extraArgs may not repeat a flag the stage sets (vLLM takes the last, so readiness would look elsewhere) nor --api-key", () => {
  const withServe = (extraArgs: string[]) => ({ ...valid(), stages: [...valid().stages, { name: "serve.policy", vllm: { extraArgs } }] });
  assert.ok(parseCampaignConfig(withServe(["--enable-prefix-caching", "--max-num-seqs", "256", "--portable"])).ok, "other flags pass as they are");
  assert.deepEqual(issues(withServe(["--max-num-seqs", "256", "--port", "8000", "--served-model-name=x", "--api-key", "secret", "-tp", "2"])), [
    "stages[3].vllm.extraArgs[2]: --port is set by serve.policy itself: set `port` instead (0: picked on the node)",
    "stages[3].vllm.extraArgs[4]: --served-model-name is set by serve.policy itself: set `servedModelName` instead",
    "stages[3].vllm.extraArgs[5]: --api-key is not supported: toolloop calls the server serve.policy starts without a key (readiness and the policy role alike), so it would never be ready; keep the server on the cluster's network instead",
    "stages[3].vllm.extraArgs[7]: -tp is set by serve.policy itself: set `vllm.tensorParallelSize` instead",
  ]);
});

test("Slurm CPUs and memory: a stage's and the cluster's cpusPerTask / memPerNode are checked, naming the path", () => {
  const cfg = (stage: Record<string, unknown>, launcher: Record<string, unknown>) => ({
    ...valid(),
    stages: [...valid().stages, { name: "train.merge", ...stage }],
    cluster: { launcher: { kind: "slurm", partition: "gpu", ...launcher } },
  });
  const r = parseCampaignConfig(cfg({ cpusPerTask: 16, memPerNode: "64G" }, { cpusPerTask: 8, memPerNode: "0" }));
  assert.ok(r.ok);
  assert.deepEqual(
    r.ok &&
      r.config.stages[3] && {
        cpus: (r.config.stages[3] as { cpusPerTask?: number }).cpusPerTask,
        mem: (r.config.stages[3] as { memPerNode?: string }).memPerNode,
      },
    { cpus: 16, mem: "64G" },
  );
  assert.deepEqual(issues(cfg({ memPerNode: "64GB" }, {})), [
    `stages[3].memPerNode: expected sbatch's --mem value: a whole number with an optional unit K, M, G or T (megabytes without one; "0": all of each node's memory), such as "64G" or "512000M"`,
  ]);
  assert.deepEqual(issues(cfg({}, { cpusPerTask: -2 })), ["cluster.launcher.cpusPerTask: expected a positive integer (sbatch --cpus-per-task)"]);
});

test("endOfTurnTokens (score.perplexity, repair.labels): unset stays absent from the parsed config; bad values are named by their path", () => {
  const cfg = (extra: Record<string, unknown>) => ({
    ...valid(),
    roles: { generator: { endpoint: "sim", model: "sim-model" }, policy: { endpoint: "sim", model: "sim-policy" } },
    stages: [{ name: "verify.rules" }, { name: "score.perplexity", ...extra }],
  });
  const unset = parseCampaignConfig(cfg({}));
  assert.ok(unset.ok);
  // No schema default: a config without it parses (and freezes) as before, and old workers run it.
  assert.equal(Object.hasOwn(unset.config.stages[1]!, "endOfTurnTokens"), false);
  const set = parseCampaignConfig(cfg({ endOfTurnTokens: ["<|turn_end|>"] }));
  assert.ok(set.ok);
  assert.deepEqual((set.config.stages[1] as { endOfTurnTokens?: string[] }).endOfTurnTokens, ["<|turn_end|>"]);
  assert.deepEqual(issues(cfg({ endOfTurnTokens: [] })), [
    "stages[1].endOfTurnTokens: expected at least one token (leave the field out for the built-in list)",
  ]);
  assert.deepEqual(issues(cfg({ endOfTurnTokens: "<|im_end|>" })), ['stages[1].endOfTurnTokens: expected a list of token strings, e.g. ["<|im_end|>"]']);
  assert.deepEqual(issues(cfg({ endOfTurnTokens: [""] })), ["stages[1].endOfTurnTokens[0]: expected a non-empty token string"]);
});
