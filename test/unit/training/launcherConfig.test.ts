import assert from "node:assert/strict";
import { test } from "node:test";
import { launcherConfigSchema } from "../../../src/training/launchers/config.js";

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
