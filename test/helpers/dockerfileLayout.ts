/**
 * Reads a Dockerfile's final stage (WORKDIR, ENV, COPY, ENTRYPOINT, CMD, HEALTHCHECK) and assembles
 * its runtime file layout in a local folder, so tests run the image's commands without a Docker
 * engine. Every `COPY --from=<stage>` reads from the checkout: the build stages run `npm run build`
 * and the venv scripts in a copy of the repository at their WORKDIR, which is what a built checkout
 * already is. A COPY source that does not exist fails here as it would fail `docker build`.
 */
import fs from "node:fs";
import path from "node:path";

export interface CopyStep {
  from?: string;
  sources: string[];
  dest: string;
}

export interface DockerStage {
  name?: string;
  base: string;
  workdir: string;
  env: Record<string, string>;
  copies: CopyStep[];
  entrypoint?: string[];
  cmd?: string[];
  healthcheck?: string[];
  user?: string;
}

/** Instructions with their continuation lines joined; comments and blank lines dropped. */
function instructions(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) continue;
    if (pending && line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      continue;
    }
    const full = (pending + line).trim();
    pending = "";
    const m = /^(\S+)\s*(.*)$/.exec(full);
    if (m?.[1] !== undefined) out.push({ op: m[1].toUpperCase(), args: m[2] ?? "" });
  }
  return out;
}

function execForm(args: string, what: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === "string")) throw new Error(`${what}: expected the exec (JSON array) form, got ${args}`);
  return parsed;
}

/** `KEY=value KEY2=value2` (quoted values allowed); `$VAR` is expanded from earlier ENV or `inherited`. */
function parseEnv(args: string, env: Record<string, string>, inherited: Record<string, string>): void {
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) {
    const key = m[1] as string;
    const value = m[3] ?? m[2] ?? "";
    env[key] = value.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, v: string) => env[v] ?? inherited[v] ?? "");
  }
}

export function parseDockerfile(text: string, inheritedEnv: Record<string, string> = {}): DockerStage[] {
  const args: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const { op, args: rest } of instructions(text)) {
    if (op === "ARG" && stages.length === 0) {
      const [k = "", v = ""] = rest.split("=");
      args[k] = v;
      continue;
    }
    if (op === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!m) throw new Error(`FROM: cannot read "${rest}"`);
      const base = (m[1] ?? "").replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, v: string) => args[v] ?? "");
      stages.push({ name: m[2], base, workdir: "/", env: {}, copies: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${op} before the first FROM`);
    if (op === "WORKDIR") stage.workdir = path.posix.resolve(stage.workdir, rest);
    else if (op === "ENV") parseEnv(rest, stage.env, inheritedEnv);
    else if (op === "USER") stage.user = rest;
    else if (op === "ENTRYPOINT") stage.entrypoint = execForm(rest, "ENTRYPOINT");
    else if (op === "CMD") stage.cmd = execForm(rest, "CMD");
    else if (op === "HEALTHCHECK") {
      const m = /\bCMD\s+(\[.*\])$/.exec(rest);
      if (!m) throw new Error(`HEALTHCHECK: expected "CMD [...]" in the exec form, got ${rest}`);
      stage.healthcheck = execForm(m[1] ?? "", "HEALTHCHECK");
    } else if (op === "COPY") {
      const words = rest.split(/\s+/);
      let from: string | undefined;
      while (words[0]?.startsWith("--")) {
        const flag = words.shift() as string;
        if (flag.startsWith("--from=")) from = flag.slice("--from=".length);
      }
      if (words.length < 2) throw new Error(`COPY: expected sources and a destination, got "${rest}"`);
      const dest = words.pop() as string;
      stage.copies.push({ from, sources: words, dest });
    }
  }
  return stages;
}

export interface AssembledImage {
  /** Where the final stage's WORKDIR landed locally. */
  root: string;
  stage: DockerStage;
  /** Maps an absolute in-image path under WORKDIR (or /data) to its local counterpart. */
  local(imagePath: string): string;
}

/**
 * Assembles the final stage under `into`: its WORKDIR becomes `<into>/app`. Folders named in
 * `linkInsteadOfCopy` (large, with no code that locates the installation: node_modules, the venvs)
 * are symlinked to the checkout's; everything else is copied, so code that finds the installation
 * by walking up from its own file finds the assembled folder, not the checkout.
 */
export function assembleFinalStage(opts: {
  dockerfile: string;
  checkout: string;
  into: string;
  linkInsteadOfCopy: string[];
  /** What `$VAR` in ENV expands to when the Dockerfile did not set it (the base image's; here the host's PATH). */
  inheritedEnv?: Record<string, string>;
}): AssembledImage {
  const stages = parseDockerfile(fs.readFileSync(opts.dockerfile, "utf8"), opts.inheritedEnv);
  const stage = stages.at(-1);
  if (!stage) throw new Error(`${opts.dockerfile}: no FROM`);
  const root = path.join(opts.into, "app");
  fs.mkdirSync(root, { recursive: true });
  const local = (imagePath: string): string => {
    if (imagePath === stage.workdir || imagePath.startsWith(`${stage.workdir}/`)) return path.join(root, path.posix.relative(stage.workdir, imagePath));
    return path.join(opts.into, imagePath);
  };
  for (const step of stage.copies) {
    const fromStage = step.from === undefined ? undefined : stages.find((s) => s.name === step.from);
    if (step.from !== undefined && !fromStage) throw new Error(`COPY --from=${step.from}: no stage of that name (external images are not assembled)`);
    const dest = local(path.posix.resolve(stage.workdir, step.dest));
    for (const source of step.sources) {
      // A build stage's files are the checkout's, at the path relative to that stage's WORKDIR.
      const rel = fromStage ? path.posix.relative(fromStage.workdir, path.posix.resolve(fromStage.workdir, source)) : source;
      if (rel.startsWith("..")) throw new Error(`COPY ${source}: outside the stage's WORKDIR ${fromStage?.workdir}`);
      const src = path.join(opts.checkout, rel);
      if (!fs.existsSync(src)) throw new Error(`COPY ${step.from ? `--from=${step.from} ` : ""}${source}: ${src} does not exist`);
      // Docker copies a folder's contents to the destination, and a file into it when it ends in "/".
      const intoDir = !fs.statSync(src).isDirectory() && (step.dest.endsWith("/") || step.sources.length > 1);
      const target = intoDir ? path.join(dest, path.basename(src)) : dest;
      fs.mkdirSync(path.dirname(target), { recursive: true });
      if (opts.linkInsteadOfCopy.includes(rel)) fs.symlinkSync(fs.realpathSync(src), target);
      else fs.cpSync(src, target, { recursive: true, dereference: true });
    }
  }
  return { root, stage, local };
}
