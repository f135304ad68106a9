/**
 * docker-compose.yml as `docker compose` sees it: loaded by the Compose specification's reference
 * loader (compose-go, through tools/compose-loader, built by scripts/ensure-compose-loader.sh), with
 * assertions on the loaded model: the official Temporal images (never the deprecated auto-setup),
 * the one-shot schema and namespace services, healthchecks, depends_on conditions and the optional
 * simulator profile.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_SHUTDOWN_FORCE_TIME_MS, DEFAULT_SHUTDOWN_GRACE_TIME } from "../../workers/createWorkers.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const COMPOSE_FILE = path.join(REPO_ROOT, "docker-compose.yml");

interface Service {
  image?: string;
  build?: unknown;
  profiles?: string[];
  entrypoint?: string[] | null;
  command?: string[] | null;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string; required: boolean }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  restart?: string;
  volumes?: { source: string; target: string; type: string }[];
  init?: boolean;
  /** A Go duration ("1m0s"); absent: Docker's default of 10 s. */
  stop_grace_period?: string;
}
interface Loaded {
  project: { name: string; services: Record<string, Service> };
  disabledServices: string[];
}

let loaderBin: string;
/** The named service of a loaded model (failing the test when it is missing). */
function service(services: Record<string, Service>, name: string): Service {
  const svc = services[name];
  assert.ok(svc, `service ${name} is defined`);
  return svc;
}
function load(profiles: string[] = []): Loaded {
  const args = [...profiles.flatMap((p) => ["--profile", p]), COMPOSE_FILE];
  // Only what the file itself sets: the host's POSTGRES_* or version variables must not leak in.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  return JSON.parse(execFileSync(loaderBin, args, { encoding: "utf8", env, cwd: REPO_ROOT })) as Loaded;
}

before(() => {
  loaderBin = execFileSync("bash", [path.join(REPO_ROOT, "scripts", "ensure-compose-loader.sh")], { encoding: "utf8", timeout: 600_000 }).trim();
});

test("the compose file is a valid Compose project with the stack's services; the simulator only in its profile", () => {
  const plain = load();
  assert.equal(plain.project.name, "toolloop");
  assert.deepEqual(Object.keys(plain.project.services).sort(), [
    "postgresql",
    "temporal",
    "temporal-schema",
    "temporal-setup",
    "temporal-ui",
    "toolloop-migrate",
    "toolloop-worker",
  ]);
  assert.deepEqual(plain.disabledServices, ["simulator"]);
  const withSim = load(["simulator"]);
  assert.deepEqual(withSim.disabledServices, []);
  assert.deepEqual(service(withSim.project.services, "simulator").profiles, ["simulator"]);
});

test("Temporal runs on the official server image; admin-tools sets up the schema before it and the namespace after it", () => {
  const all = load(["*"]).project.services;
  const s = (name: string) => service(all, name);
  for (const [name, svc] of Object.entries(all)) assert.doesNotMatch(svc.image ?? "", /auto-setup/, `${name} must not use the deprecated auto-setup image`);
  assert.match(s("temporal").image ?? "", /^temporalio\/server:/);
  assert.match(s("temporal-schema").image ?? "", /^temporalio\/admin-tools:/);
  assert.match(s("temporal-setup").image ?? "", /^temporalio\/admin-tools:/);
  assert.match(s("temporal-ui").image ?? "", /^temporalio\/ui:/);
  assert.equal(s("temporal").environment?.DB, "postgres12");
  assert.equal(s("temporal").environment?.POSTGRES_SEEDS, "postgresql");

  // The mounted scripts exist and do what their service is for.
  const script = (svc: Service) => {
    const mount = (svc.volumes ?? []).find((v) => svc.entrypoint?.includes(v.target));
    assert.ok(mount, `entrypoint ${JSON.stringify(svc.entrypoint)} runs a mounted script`);
    return fs.readFileSync(mount.source, "utf8");
  };
  const schema = script(s("temporal-schema"));
  for (const step of ["create", "setup-schema -v 0.0", "update-schema -d"])
    assert.ok(schema.includes(step), `temporal-schema.sh runs temporal-sql-tool ${step}`);
  // Both databases, each with its own versioned schema folder of the admin-tools release.
  assert.ok(schema.includes('"${TEMPORAL_DB:-temporal}:temporal"') && schema.includes('"${TEMPORAL_VISIBILITY_DB:-temporal_visibility}:visibility"'));
  assert.ok(schema.includes('update-schema -d "$schema_root/$kind/versioned"'));
  assert.match(schema, /postgresql\/v12/);
  assert.match(schema, /TOOLLOOP_DB:-toolloop/);
  const setup = script(s("temporal-setup"));
  assert.match(setup, /operator namespace create/);
  assert.match(setup, /operator search-attribute create/);
});

test("every long-running service has a healthcheck and every dependency waits on a condition", () => {
  const all = load(["*"]).project.services;
  const s = (name: string) => service(all, name);
  const dep = (from: string, to: string) => s(from).depends_on?.[to]?.condition;
  assert.equal(dep("temporal-schema", "postgresql"), "service_healthy");
  assert.equal(dep("temporal", "temporal-schema"), "service_completed_successfully");
  assert.equal(dep("temporal-setup", "temporal"), "service_healthy");
  assert.equal(dep("temporal-ui", "temporal"), "service_healthy");
  assert.equal(dep("toolloop-migrate", "temporal-schema"), "service_completed_successfully");
  assert.equal(dep("toolloop-worker", "toolloop-migrate"), "service_completed_successfully");
  assert.equal(dep("toolloop-worker", "temporal-setup"), "service_completed_successfully");
  for (const [name, svc] of Object.entries(all)) {
    for (const [to, d] of Object.entries(svc.depends_on ?? {})) assert.notEqual(d.condition, "service_started", `${name} -> ${to} waits on a real condition`);
  }
  for (const name of ["postgresql", "temporal", "toolloop-worker", "simulator"]) {
    const hc = s(name).healthcheck;
    assert.ok(hc?.test && hc.test.length > 1 && !hc.disable, `${name} has a healthcheck`);
  }
  assert.deepEqual(s("toolloop-worker").healthcheck?.test, ["CMD", "node", "/app/dist/src/ops/workerHealthcheck.js"]);
  // A probe of the container's own port names 127.0.0.1: in the Alpine images (musl) `localhost`
  // resolves to ::1 first, busybox nc/wget do not fall back to 127.0.0.1, and the servers here listen
  // on IPv4 (Temporal's BIND_ON_IP=0.0.0.0), so such a check would never pass and block every dependant.
  for (const [name, svc] of Object.entries(all)) {
    const probe = (svc.healthcheck?.test ?? []).join(" ");
    assert.doesNotMatch(probe, /\blocalhost\b/, `${name}'s healthcheck probes 127.0.0.1, not localhost: ${probe}`);
  }
  assert.deepEqual(s("temporal").healthcheck?.test, ["CMD", "nc", "-z", "127.0.0.1", "7233"]);
  // One-shots end; they are not restarted and not health-checked as workers.
  for (const name of ["temporal-schema", "temporal-setup", "toolloop-migrate"]) assert.equal(s(name).restart, "no", `${name} is one-shot`);
  assert.equal(s("toolloop-migrate").healthcheck?.disable, true);
});

test("toolloop services run the image's CLI: migrate, worker, and the simulator on the stack's network", () => {
  const all = load(["*"]).project.services;
  const s = (name: string) => service(all, name);
  for (const name of ["toolloop-migrate", "toolloop-worker", "simulator"]) assert.equal(s(name).image, "toolloop:local");
  assert.deepEqual(s("toolloop-migrate").command, ["db", "migrate"]);
  assert.deepEqual(s("toolloop-worker").command, ["worker", "--base-dir", "/data"]);
  assert.equal(s("toolloop-worker").environment?.TEMPORAL_ADDRESS, "temporal:7233");
  assert.equal(s("toolloop-worker").environment?.DATABASE_URL, "postgres://temporal:temporal@postgresql:5432/toolloop");
  assert.deepEqual(s("simulator").entrypoint, ["node", "/app/dist/src/llm/simulator/main.js"]);
  assert.deepEqual(s("simulator").command?.slice(0, 4), ["--host", "0.0.0.0", "--port", "8000"]);
  // The files the image's commands name exist in the build output (the layout test runs them).
  for (const file of ["dist/src/llm/simulator/main.js", "dist/src/ops/workerHealthcheck.js", "dist/src/cli/main.js"]) {
    assert.ok(fs.existsSync(path.join(REPO_ROOT, file)), `${file} is built`);
  }
});

test("examples/compose-simulator.campaign.json reaches the simulator service as compose defines it", () => {
  const s = load(["simulator"]).project.services;
  const config = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "examples", "compose-simulator.campaign.json"), "utf8")) as {
    endpoints: Record<string, { baseUrl: string }>;
  };
  for (const [name, endpoint] of Object.entries(config.endpoints)) {
    const url = new URL(endpoint.baseUrl);
    const svc = service(s, url.hostname);
    const command = svc.command ?? [];
    assert.equal(command[command.indexOf("--port") + 1], url.port, `endpoint ${name}: the ${url.hostname} service listens on ${url.port}`);
    assert.equal(command[command.indexOf("--host") + 1], "0.0.0.0", `the ${url.hostname} service accepts connections from other containers`);
  }
});

test("docker/temporal-setup.sh gives up with a message when the namespace's search attributes cannot be listed", () => {
  // A stub `temporal` CLI: the cluster is SERVING and the namespace exists, but listing its search
  // attributes keeps failing. The script must exit 1 saying so, not wait forever (the worker waits on it).
  const dir = fs.mkdtempSync(path.join(REPO_ROOT, ".toolloop-setup-"));
  try {
    const stub = path.join(dir, "temporal");
    fs.writeFileSync(
      stub,
      '#!/bin/sh\ncase "$*" in\n  *"cluster health"*) echo SERVING ;;\n  *"namespace describe"*) exit 0 ;;\n  *) echo "unavailable" >&2; exit 1 ;;\nesac\n',
      { mode: 0o755 },
    );
    const r = spawnSync("sh", [path.join(REPO_ROOT, "docker", "temporal-setup.sh")], {
      env: { PATH: `${dir}:${process.env.PATH ?? ""}`, TEMPORAL_ADDRESS: "temporal:7233", TEMPORAL_SETUP_WAIT_SECONDS: "2" },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.error, undefined, "the script ended by itself");
    assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^cannot list the search attributes of namespace default at temporal:7233$/m);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a broken compose file is rejected by the loader with its reason", () => {
  const broken = path.join(fs.mkdtempSync(path.join(REPO_ROOT, ".toolloop-compose-")), "docker-compose.yml");
  try {
    fs.writeFileSync(broken, "services:\n  a:\n    image: x\n    depends_on:\n      b:\n        condition: service_healthy\n");
    assert.throws(
      () => execFileSync(loaderBin, [broken], { encoding: "utf8", stdio: "pipe" }),
      (err: Error & { stderr?: string }) => {
        assert.match(err.stderr ?? "", /compose-loader: .*depends on undefined service "?b"?/);
        return true;
      },
    );
  } finally {
    fs.rmSync(path.dirname(broken), { recursive: true, force: true });
  }
});

test("every service on the toolloop image runs with an init process: node as PID 1 ignores SIGINT and SIGTERM it has no handler for", () => {
  const all = load(["*"]).project.services;
  const own = Object.entries(all).filter(([, svc]) => svc.image === "toolloop:local");
  assert.deepEqual(own.map(([name]) => name).sort(), ["simulator", "toolloop-migrate", "toolloop-worker"]);
  // `docker compose run --rm toolloop-worker campaign start ... --wait` runs the CLI as the container's
  // main process: without an init, Ctrl-C (SIGINT) never reached a default action and did nothing.
  for (const [name, svc] of own) assert.equal(svc.init, true, `${name} sets init: true`);
});

/** Seconds of a Go duration as compose-go writes it ("1m0s", "45s"). */
function goDurationSeconds(d: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(d);
  assert.ok(m && d !== "", `a duration: ${d}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

test("docker compose stop waits out the worker's graceful shutdown before it SIGKILLs the worker", () => {
  const worker = service(load().project.services, "toolloop-worker");
  // Without stop_grace_period Docker kills after 10 s: before the 20 s grace ended and the cancelled
  // batches wrote what they finished. The worker itself ends by its force time plus 5 s of closing.
  const waits = worker.stop_grace_period === undefined ? 10 : goDurationSeconds(worker.stop_grace_period);
  assert.match(DEFAULT_SHUTDOWN_GRACE_TIME, /^20 seconds$/);
  assert.ok(waits >= DEFAULT_SHUTDOWN_FORCE_TIME_MS / 1000 + 5, `toolloop-worker's stop_grace_period ${waits} s covers the worker's shutdown`);
});

/** The services `docker compose run|exec ...` lines in a Markdown file name (flags and their values skipped). */
function composeCommandServices(markdown: string): { line: string; service: string }[] {
  const valueFlags = new Set([
    "-p",
    "--publish",
    "-e",
    "--env",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "--name",
    "--entrypoint",
    "-v",
    "--volume",
    "--profile",
    "-f",
    "--file",
  ]);
  const found: { line: string; service: string }[] = [];
  for (const m of markdown.matchAll(/docker compose ((?:--?[a-z-]+ \S+ )*)(run|exec) ([^`\n]+(?:\n[^`\n]+)?)/g)) {
    const words = (m[3] as string).trim().split(/\s+/);
    for (let i = 0; i < words.length; i++) {
      const word = words[i] as string;
      if (valueFlags.has(word)) i++;
      else if (!word.startsWith("-")) {
        found.push({ line: m[0], service: word });
        break;
      }
    }
  }
  return found;
}

test("every `docker compose run|exec <service>` the README and docs show names a service of the compose file", () => {
  const services = Object.keys(load(["*"]).project.services);
  const files = [
    path.join(REPO_ROOT, "README.md"),
    ...fs
      .readdirSync(path.join(REPO_ROOT, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => path.join(REPO_ROOT, "docs", f)),
  ];
  let checked = 0;
  for (const file of files) {
    for (const { line, service } of composeCommandServices(fs.readFileSync(file, "utf8"))) {
      assert.ok(
        services.includes(service),
        `${path.relative(REPO_ROOT, file)}: \`${line}\` names service "${service}", which docker-compose.yml does not define (${services.join(", ")})`,
      );
      checked++;
    }
  }
  assert.ok(checked >= 5, `found only ${checked} docker compose run/exec lines to check`);
});
