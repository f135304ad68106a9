import assert from "node:assert/strict";
import { test } from "node:test";
import { launcherConfigSchema, slurmCpuMemory, type LauncherConfig } from "../../../src/training/launchers/config.js";
import { createLauncher } from "../../../src/training/launchers/index.js";
import { UnknownLauncherKindError } from "../../../src/training/launchers/launcher.js";

function messages(input: unknown): string[] {
  const r = launcherConfigSchema.safeParse(input);
  assert.equal(r.success, false, `expected ${JSON.stringify(input)} to be refused`);
  return r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

test("launcher config: defaults per kind", () => {
  assert.deepEqual(launcherConfigSchema.parse({ kind: "local" }), { kind: "local" });
  assert.deepEqual(launcherConfigSchema.parse({ kind: "slurm", partition: "gpu" }), {
    kind: "slurm",
    partition: "gpu",
    extraSbatchArgs: [],
    rayPort: 6379,
    setupCommands: [],
  });
  assert.deepEqual(launcherConfigSchema.parse({ kind: "ray", address: "http://127.0.0.1:8265", runtimeEnv: {} }), {
    kind: "ray",
    address: "http://127.0.0.1:8265",
    runtimeEnv: { envVars: {} },
    headers: {},
  });
});

test("launcher config: bad input is refused with a message naming the field", () => {
  assert.match(messages({ kind: "kubernetes" }).join("\n"), /kind.*"local", "slurm", "ray"/);
  assert.match(messages({ kind: "slurm", partition: "gpu; rm -rf /" }).join("\n"), /^partition: expected a Slurm partition name/m);
  assert.match(messages({ kind: "slurm", rayPort: 70000 }).join("\n"), /^rayPort: expected a port number in 1\.\.65535/m);
  assert.match(messages({ kind: "slurm", setupCommands: ["module load a\nrm -rf /"] }).join("\n"), /^setupCommands\.0: must be a single line/m);
  assert.match(messages({ kind: "ray", address: "ftp://x" }).join("\n"), /^address: expected the http: or https: URL of the Ray dashboard/m);
  assert.deepEqual(messages({ kind: "ray", address: "http://h:8265", runtimeEnv: { envVars: { "1BAD": "x" } } }), [
    `runtimeEnv.envVars.1BAD: "1BAD" is not a valid environment variable name (a letter or '_', then letters, digits or '_'; at most 128)`,
  ]);
  assert.deepEqual(messages({ kind: "ray", address: "http://h:8265", headers: { "X A": "v" } }), [
    `headers.X A: "X A" is not an HTTP header name (letters, digits and !#$%&'*+.^_\`|~-; at most 128)`,
  ]);
  assert.match(messages({ kind: "ray", address: "http://h:8265", headers: { "X-A": "a\r\nb" } }).join("\n"), /^headers\.X-A: must be a single line/m);
  // Ray's Jobs REST API does not upload a local folder: Ray itself would fail the job at start ("... is not a valid URI").
  assert.match(
    messages({ kind: "ray", address: "http://h:8265", runtimeEnv: { workingDir: "/home/me/project" } }).join("\n"),
    /^runtimeEnv\.workingDir: expected a URI, not a local path: .*local:\/\/\/abs\/path/m,
  );
  assert.match(
    messages({ kind: "ray", address: "http://h:8265", runtimeEnv: { workingDir: "ftp://h/p.zip" } }).join("\n"),
    /^runtimeEnv\.workingDir: expected a URI with a scheme Ray accepts/m,
  );
  for (const workingDir of ["local:///shared/project", "s3://bucket/project.zip", "https://example.com/p.zip", "gcs://_ray_pkg_abc.zip"]) {
    assert.equal(launcherConfigSchema.parse({ kind: "ray", address: "http://h:8265", runtimeEnv: { workingDir } }).kind, "ray", workingDir);
  }
  assert.match(messages({ kind: "local", stateDir: "" }).join("\n"), /^stateDir: expected a non-empty string/m);
  assert.match(messages({ kind: "local", extra: 1 }).join("\n"), /extra/);
});

test("launcher config: Slurm's cpusPerTask and memPerNode are checked, naming the field; a stage's own win over the cluster's", () => {
  const slurm = { kind: "slurm", partition: "gpu" };
  assert.deepEqual(launcherConfigSchema.parse({ ...slurm, cpusPerTask: 32, memPerNode: "256G" }), {
    ...slurm,
    cpusPerTask: 32,
    memPerNode: "256G",
    extraSbatchArgs: [],
    rayPort: 6379,
    setupCommands: [],
  });
  for (const memPerNode of ["0", "512000", "64G", "2T", "1024K", "900M"])
    assert.equal(launcherConfigSchema.parse({ ...slurm, memPerNode }).kind, "slurm", memPerNode);
  assert.deepEqual(messages({ ...slurm, cpusPerTask: 0 }), ["cpusPerTask: expected a positive integer (sbatch --cpus-per-task)"]);
  assert.deepEqual(messages({ ...slurm, cpusPerTask: 2.5 }), ["cpusPerTask: expected a positive integer (sbatch --cpus-per-task)"]);
  assert.deepEqual(messages({ ...slurm, cpusPerTask: 5000 }), ["cpusPerTask: expected at most 4096 CPUs"]);
  for (const memPerNode of ["64GB", "64 G", "-1", "1.5G", "", "64g\n#SBATCH --uid=0"])
    assert.match(
      messages({ ...slurm, memPerNode }).join("\n"),
      /^memPerNode: expected sbatch's --mem value: a whole number with an optional unit K, M, G or T/m,
      memPerNode,
    );
  assert.deepEqual(messages({ ...slurm, memPerNode: 64 }), ['memPerNode: expected sbatch\'s --mem value as a string, such as "64G"']);

  const cluster = launcherConfigSchema.parse({ ...slurm, cpusPerTask: 8, memPerNode: "64G" });
  assert.deepEqual(slurmCpuMemory(cluster, {}), { cpusPerTask: 8, memPerNode: "64G" });
  assert.deepEqual(slurmCpuMemory(cluster, { cpusPerTask: 64 }), { cpusPerTask: 64, memPerNode: "64G" });
  assert.deepEqual(slurmCpuMemory(cluster, { cpusPerTask: 64, memPerNode: "0" }), { cpusPerTask: 64, memPerNode: "0" });
  assert.deepEqual(slurmCpuMemory(launcherConfigSchema.parse(slurm), {}), {});
  // Other launchers have no such setting; a stage's own still travels with the request (Ray's job metadata).
  assert.deepEqual(slurmCpuMemory(launcherConfigSchema.parse({ kind: "local" }), { memPerNode: "8G" }), { memPerNode: "8G" });
});

test("createLauncher refuses a kind it does not have, naming the field and the kinds (a stored config from before validation checked it)", () => {
  const stored = { kind: "kubernetes" } as unknown as LauncherConfig;
  assert.throws(
    () => createLauncher(stored, { log: () => undefined }),
    (err: unknown) =>
      err instanceof UnknownLauncherKindError &&
      err.message === 'cluster.launcher.kind: "kubernetes" is not a launcher this build has; expected one of "local", "slurm", "ray"',
  );
});
