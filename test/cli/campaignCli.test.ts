/** The campaign CLI as a process: exit codes and one-line errors, without Temporal or PostgreSQL running. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ServiceError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from "@temporalio/client";
import { cliEnv } from "../../src/cli/env.js";
import { CliError, campaignEndedError, databaseCliError, describeDatabaseUrl, renderCliFailure, splitAddress, temporalCliError } from "../../src/cli/errors.js";
import { closedPort } from "../helpers/deadEndpoints.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const MAIN = path.join(REPO_ROOT, "dist", "src", "cli", "main.js");
const EXAMPLE = path.join(REPO_ROOT, "examples", "demo.campaign.json");
const tmp = mkdtempSync(path.join(tmpdir(), "toolloop-campaign-cli-"));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function configFile(name: string, edit: (c: Record<string, unknown>) => void, prefix = ""): string {
  const c = JSON.parse(readFileSync(EXAMPLE, "utf8")) as Record<string, unknown>;
  edit(c);
  const f = path.join(tmp, name);
  writeFileSync(f, prefix + JSON.stringify(c, null, 2));
  return f;
}

test("validate: the example config is OK and its summary lists stages and tools", () => {
  const r = cli(["campaign", "validate", "--config", EXAMPLE]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^OK: .*demo\.campaign\.json: campaign "demo", 3 iterations, endpoints simulator$/m);
  assert.match(r.stdout, /^ {2}stage synthesize\.singleTurn: 400 samples in batches of 100 \(first iteration only\)$/m);
  assert.match(r.stdout, /^ {2}stage repair\.labels$/m);
  assert.match(r.stdout, /^tools: 35 loaded from 1 source$/m);
});

test("validate: a BOM-prefixed config is accepted like the tool files are", () => {
  assert.equal(cli(["campaign", "validate", "--config", configFile("bom.json", () => undefined, "\uFEFF")]).status, 0);
});

test("bad input exits 2 with one message and no stack trace", () => {
  const cases: [string[], RegExp][] = [
    [["campaign", "validate", "--config", path.join(tmp, "absent.json")], /^error: --config: file not found: .*absent\.json\n$/],
    [
      ["campaign", "start", "--config", configFile("syntax.json", () => undefined, "{,")],
      /^error: --config: .*syntax\.json: invalid JSON at line 1 column 2: /,
    ],
    [
      [
        "campaign",
        "validate",
        "--config",
        configFile("hostile.json", (c) => {
          (c.roles as Record<string, Record<string, unknown>>).generator!.endpoint = "constructor";
          (c.endpoints as Record<string, Record<string, unknown>>).simulator!.baseUrl = "javascript:alert(1)";
        }),
      ],
      /^error: invalid campaign config .*hostile\.json:\n {2}endpoints\.simulator\.baseUrl: expected an http: or https: URL.*\n {2}roles\.generator\.endpoint: unknown endpoint "constructor"; defined: simulator\n$/,
    ],
    [
      [
        "campaign",
        "start",
        "--config",
        configFile("missing-tools.json", (c) => (c.tools = { sources: [{ kind: "example" }, { kind: "mcp", path: "no-such-tools.json" }] })),
      ],
      /^error: a tool source cannot be loaded \(paths are relative to .*\):\n {2}no-such-tools\.json: mcp tool file: file not found: .*no-such-tools\.json\n$/,
    ],
    [["campaign", "start", "--config", EXAMPLE, "--id", "no spaces"], /^error: --id: "no spaces" cannot be a campaign id: expected letters, digits/],
    [["campaign", "start", "--config", EXAMPLE, "--id", "x".repeat(129)], /^error: --id: "x{129}" cannot be a campaign id: .*at most 128/],
    [["campaign", "start"], /^error: required option '--config <file>' not specified/],
  ];
  for (const [args, stderr] of cases) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, stderr, args.join(" "));
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

test("a file with no valid tool is refused before anything starts", () => {
  writeFileSync(path.join(tmp, "all-bad-tools.json"), JSON.stringify([{ name: "x y", description: "" }]));
  const f = configFile("bad-tools.json", (c) => (c.tools = { sources: [{ kind: "openai", path: "all-bad-tools.json" }] }));
  const r = cli(["campaign", "start", "--config", f]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error: no valid tool loads from tools\.sources .*:\n {2}all-bad-tools\.json: tools\[0\] "x y": name: "x y" must be 1-64 characters/);
});

test("validate refuses a campaignId that start would refuse (it ends in -iter-<n>, another campaign's iteration id)", () => {
  const r = cli(["campaign", "validate", "--config", configFile("derived-id.json", (c) => (c.campaignId = "x-iter-2"))]);
  assert.equal(r.status, 2, r.stdout);
  assert.match(
    r.stderr,
    /^error: campaignId: campaign id "x-iter-2" cannot be used: its workflow id campaign-x-iter-2 is the id campaign "x" runs its iteration 2 under/,
  );
});

test("a frozen config (validate --json's output) naming an unknown cluster.launcher kind is refused at once, naming the field and the kinds", () => {
  const frozen = JSON.parse(cli(["campaign", "validate", "--json", "--config", EXAMPLE]).stdout) as { config: { cluster: { launcher: unknown } } };
  frozen.config.cluster.launcher = { kind: "kubernetes" };
  const f = path.join(tmp, "frozen-unknown-launcher.json");
  writeFileSync(f, JSON.stringify(frozen));
  for (const command of ["validate", "start"]) {
    // start refuses it before it looks for Temporal (none runs here).
    const r = cli(["campaign", command, "--config", f]);
    assert.equal(r.status, 2, `${command}: ${r.stdout}${r.stderr}`);
    assert.match(
      r.stderr,
      /^error: invalid campaign config .*frozen-unknown-launcher\.json:\n {2}config\.cluster\.launcher\.kind: expected kind to be one of "local", "slurm", "ray"\n/,
    );
  }
});

test("validate and start of a Temporal UI start input (examples/ui-start.json, or its bare input) say where its campaign config is", () => {
  const uiStart = path.join(REPO_ROOT, "examples", "ui-start.json");
  const bareInput = path.join(tmp, "ui-input.json");
  writeFileSync(bareInput, JSON.stringify((JSON.parse(readFileSync(uiStart, "utf8")) as { input: unknown }).input));
  for (const [file, where] of [
    [uiStart, "input.config"],
    [bareInput, "config"],
  ] as const) {
    for (const command of ["validate", "start"]) {
      const r = cli(["campaign", command, "--config", file]);
      assert.equal(r.status, 2, `${command}: ${r.stdout}${r.stderr}`);
      assert.equal(
        r.stderr.split("\n")[0],
        `error: invalid campaign config ${file}: it is a Temporal UI start input, not a campaign config; its campaign config is its \`${where}\`: save that object as a file of its own for \`campaign validate\` and \`campaign start\`, or paste the input into the UI's Start Workflow form (docs/operations.md)`,
      );
    }
  }
});

test("status and list with the demo's PGlite folder and no Temporal say that the folder is not read by them, and what reads it", async () => {
  const env = { DATABASE_URL: `pglite:${path.join(tmp, "demo-pglite")}`, TEMPORAL_ADDRESS: `127.0.0.1:${await closedPort()}` };
  for (const args of [
    ["campaign", "status", "demo-1"],
    ["campaign", "list"],
  ]) {
    const r = cli(args, env);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(
      r.stderr,
      /^error: cannot reach Temporal at 127\.0\.0\.1:\d+ \(TEMPORAL_ADDRESS\): connection refused; and DATABASE_URL is an embedded PGlite folder, which campaign status and list do not open \(it belongs to the process that runs it, such as the demo\): start Temporal with `node dist\/src\/services\/main\.js up` or set TEMPORAL_ADDRESS; `report build`, `model list` and `sample lineage` read a PGlite folder no process runs \(a finished demo's\)\n$/,
    );
  }
});

test("a tool file with an empty list is refused naming the file: it lists no tools", () => {
  writeFileSync(path.join(tmp, "empty-tools.json"), JSON.stringify({ tools: [] }));
  const f = configFile("empty-tools-config.json", (c) => (c.tools = { sources: [{ kind: "mcp", path: "empty-tools.json" }] }));
  const r = cli(["campaign", "validate", "--config", f]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error: no valid tool loads from tools\.sources \(paths are relative to .*\):\n {2}empty-tools\.json: lists no tools\n$/);
});

test("a field no stage defines is refused at once by validate and start, naming it; a frozen config's too (the freeze takes it as it is)", () => {
  const withField = configFile("stage-field.json", (c) => ((c.stages as Record<string, unknown>[])[1]!.cpusPerTask = 4));
  for (const command of ["validate", "start"]) {
    const r = cli(["campaign", command, "--config", withField]);
    assert.equal(r.status, 2, `${command}: ${r.stderr}`);
    assert.match(r.stderr, /^error: invalid campaign config .*stage-field\.json:\n {2}stages\[1\]: unknown field "cpusPerTask"\n$/, command);
  }
  // The frozen form `campaign validate` prints (and workers store), with a field this build lacks.
  const printed = cli(["campaign", "validate", "--config", EXAMPLE]).stdout;
  const frozen = JSON.parse(printed.slice(printed.indexOf("\n{") + 1)) as Record<string, unknown>;
  const file = path.join(tmp, "frozen.json");
  writeFileSync(file, JSON.stringify({ schemaVersion: 1, config: frozen, stages: [], configDir: path.dirname(EXAMPLE) }));
  assert.equal(cli(["campaign", "validate", "--config", file]).status, 0, "the frozen form of a valid config is valid");
  (frozen.stages as Record<string, unknown>[])[0]!.cpusPerTask = 4;
  (frozen.endpoints as Record<string, Record<string, unknown>>).simulator!.retryJitter = true;
  writeFileSync(file, JSON.stringify({ schemaVersion: 1, config: frozen, stages: [], configDir: path.dirname(EXAMPLE) }));
  for (const command of ["validate", "start"]) {
    const r = cli(["campaign", command, "--config", file]);
    assert.equal(r.status, 2, `${command}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /^error: invalid campaign config .*frozen\.json:\n {2}config\.endpoints\.simulator: unknown field "retryJitter"\n {2}config\.stages\[0\]: unknown field "cpusPerTask"\n$/,
      command,
    );
  }
});

test("a value this build refuses is refused at once by validate and start, as written and frozen: workers leave such a step to a newer build, so the CLI must not let one through", () => {
  const withValue = configFile("stage-value.json", (c) => ((c.stages as Record<string, unknown>[])[1]!.batchSize = 3000));
  const printed = cli(["campaign", "validate", "--config", EXAMPLE]).stdout;
  const frozen = JSON.parse(printed.slice(printed.indexOf("\n{") + 1)) as Record<string, unknown>;
  (frozen.stages as Record<string, unknown>[])[1]!.batchSize = 3000;
  const frozenFile = path.join(tmp, "frozen-value.json");
  writeFileSync(frozenFile, JSON.stringify({ schemaVersion: 1, config: frozen, stages: [], configDir: path.dirname(EXAMPLE) }));
  for (const [file, at] of [
    [withValue, "stages"],
    [frozenFile, "config.stages"],
  ] as const)
    for (const command of ["validate", "start"]) {
      const r = cli(["campaign", command, "--config", file]);
      assert.equal(r.status, 2, `${command} ${file}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`\n  ${at}[1].batchSize: expected at most`), `${command} ${file}: ${r.stderr}`);
    }
});

test("a __proto__ role in the JSON text is refused, not dropped", () => {
  const f = path.join(tmp, "proto-role.json");
  const text = readFileSync(EXAMPLE, "utf8").replace('"roles": {', '"roles": {"__proto__": {"endpoint": "simulator", "model": "x"}, ');
  assert.ok(text.includes('"__proto__"'), "the example config has a roles object");
  writeFileSync(f, text);
  const r = cli(["campaign", "validate", "--config", f]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error: invalid campaign config .*proto-role\.json:\n {2}roles\.__proto__: "__proto__" is a reserved name \(it collides/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
});

test("a cron line out of range is refused by validate and by schedule create (before Temporal), with every other schedule error", async () => {
  const f = configFile("bad-cron.json", (c) => {
    c.schedules = [
      { id: "weekly", spec: { cron: ["0 6 * * MON", "61 6 * * FUNDAY"], timezone: "Mars/Olympus", jitter: "soon" }, overlap: "sometimes", catchupWindow: "1s" },
    ];
  });
  const expected = [
    "schedules[0].spec.cron[1]: minute 61 is out of range 0-59",
    'schedules[0].spec.cron[1]: day of week "FUNDAY" is not a day of week 0-7 (0 and 7 are Sunday) or a name such as MON',
    "schedules[0].spec.timezone: expected an IANA time zone name",
    "schedules[0].spec.jitter: expected a duration",
    'schedules[0].overlap: expected one of "skip"',
    "schedules[0].catchupWindow: expected at least 10s",
  ];
  const port = await closedPort();
  for (const args of [
    ["campaign", "validate", "--config", f],
    ["schedule", "create", "--config", f],
  ]) {
    const r = cli(args, { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, "", args.join(" "));
    assert.match(r.stderr, /^error: invalid campaign config .*bad-cron\.json:\n/, args.join(" "));
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("  "));
    assert.equal(lines.length, expected.length, `${args.join(" ")}: ${r.stderr}`);
    for (const [i, e] of expected.entries()) assert.ok(lines[i]!.startsWith(`  ${e}`), `${args.join(" ")}: line ${i}: ${lines[i]}`);
  }
});

test("--id takes back a default campaign id (a 63-character name and its timestamp): it gets as far as Temporal", async () => {
  const port = await closedPort();
  const id = `${"n".repeat(63)}-20261207-031500`;
  const r = cli(["campaign", "start", "--config", EXAMPLE, "--id", id], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^error: cannot reach Temporal at /);
});

test("Temporal unreachable: exit 1, one line with the address, the cause and what to do; --debug adds the stack", async () => {
  const port = await closedPort();
  const started = Date.now();
  const r = cli(["campaign", "start", "--config", EXAMPLE], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr,
    `error: cannot reach Temporal at 127.0.0.1:${port} (TEMPORAL_ADDRESS): connection refused; start it with \`node dist/src/services/main.js up\` or set TEMPORAL_ADDRESS\n`,
  );
  // The SDK's connect deadline is 10 s: a refused port must not wait for it. Node's own start-up
  // dominates on a loaded machine, so the bound is on what this run adds to `--help` run just after.
  const elapsed = Date.now() - started;
  const baselineStart = Date.now();
  cli(["--help"]);
  const baseline = Date.now() - baselineStart;
  assert.ok(elapsed - baseline < 8000, `a refused port fails fast, not after the SDK's 10 s deadline (took ${elapsed} ms, --help ${baseline} ms)`);
  const debug = cli(["campaign", "status", "x", "--debug"], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
  assert.equal(debug.status, 1);
  assert.match(debug.stderr, /cannot reach Temporal/);
  assert.match(debug.stderr, /\n\s+at /, "--debug prints the stack");
});

test("PostgreSQL unreachable: exit 1 naming host and database, never the password", async () => {
  const port = await closedPort();
  const r = cli(["db", "migrate"], { DATABASE_URL: `postgres://user:s3cret@127.0.0.1:${port}/toolloop` });
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr,
    `error: cannot reach PostgreSQL at 127.0.0.1:${port}/toolloop (DATABASE_URL): connection refused; start it with \`node dist/src/services/main.js up\` or set DATABASE_URL\n`,
  );
  assert.doesNotMatch(r.stderr, /s3cret/);
});

test("SDK errors map to CliErrors that say what to do", () => {
  const e = cliEnv({ TEMPORAL_ADDRESS: "temporal:7233" });
  const running = temporalCliError(new WorkflowExecutionAlreadyStartedError("already started", "campaign-weekly", "campaignWorkflow"), e, {
    campaignId: "weekly",
  });
  assert.ok(running instanceof CliError);
  assert.equal(running.exitCode, 1);
  assert.equal(
    running.message,
    "campaign weekly is already running (workflow campaign-weekly); follow it with `campaign status weekly --watch`, or start a new one with another --id",
  );
  const missing = temporalCliError(new WorkflowNotFoundError("not found", "campaign-x", undefined), e);
  assert.equal(missing?.exitCode, 2);
  assert.match(missing?.message ?? "", /^no such campaign workflow: campaign-x; check the id/);
  // A closed workflow is not a missing one: Temporal's status in its UI's words, and what to run instead.
  const ended = campaignEndedError("weekly", "campaign-weekly", "CANCELLED", "pause");
  assert.equal(ended.exitCode, 2);
  assert.equal(
    ended.message,
    "campaign weekly has already ended (workflow campaign-weekly: Canceled): there is nothing to pause; `toolloop campaign status weekly` shows how it ended",
  );
  assert.match(campaignEndedError("w", "campaign-w", "FAILED", "abort").message, /\(workflow campaign-w: Failed\): there is nothing to abort;/);
  const grpc = Object.assign(new Error("14 UNAVAILABLE: connection dropped"), { code: 14, details: "", metadata: {} });
  const lost = temporalCliError(new ServiceError("Failed to query workflow", { cause: grpc }), e);
  assert.equal(lost?.exitCode, 1);
  assert.match(lost?.message ?? "", /^lost the connection to Temporal at temporal:7233 \(TEMPORAL_ADDRESS\)/);
  assert.equal(temporalCliError(new Error("something else"), e), undefined);

  const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  const wrapped = Object.assign(new Error('Failed query: CREATE SCHEMA IF NOT EXISTS "drizzle"'), { cause: new AggregateError([refused]) });
  assert.match(
    databaseCliError(wrapped, "postgres://u:p@db:5432/t")?.message ?? "",
    /^cannot reach PostgreSQL at db:5432\/t \(DATABASE_URL\): connection refused; /,
  );
  assert.equal(describeDatabaseUrl("postgres://u:secret@h:1/d"), "h:1/d");

  const unexpected = renderCliFailure(new TypeError("boom\nsecond line"), e, false);
  assert.deepEqual(unexpected, { text: "error: boom (unexpected; run with --debug for the stack trace)", exitCode: 1 });
  assert.deepEqual(splitAddress("[::1]:7234"), { host: "::1", port: 7234 });
  assert.deepEqual(splitAddress("temporal"), { host: "temporal", port: 7233 });
});
