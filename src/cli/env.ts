import path from "node:path";
import { CliError } from "./errors.js";

/** Connection settings from the environment, with the local defaults the README uses. */
export interface CliEnv {
  temporalAddress: string;
  namespace: string;
  uiUrl: string;
  databaseUrl: string | undefined;
  queuePrefix: string;
}

/**
 * A blank variable counts as unset: `TEMPORAL_ADDRESS=$UNSET` in a script or an empty line in an env
 * file means "not given", not an empty address (or an empty DATABASE_URL) to fail on later.
 */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v;
}

export function cliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  return {
    temporalAddress: envValue(env, "TEMPORAL_ADDRESS") ?? "127.0.0.1:7233",
    namespace: envValue(env, "TEMPORAL_NAMESPACE") ?? "default",
    uiUrl: (envValue(env, "TEMPORAL_UI_URL") ?? "http://127.0.0.1:8233").replace(/\/$/, ""),
    databaseUrl: envValue(env, "DATABASE_URL"),
    queuePrefix: queuePrefix(envValue(env, "TOOLLOOP_QUEUE_PREFIX") ?? "toolloop"),
  };
}

/** Up to 100 letters, digits and `._-`, starting with a letter or digit. */
const QUEUE_PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Every task queue name starts with the prefix, so workers and the CLI must read the same one. A
 * stray space from an env file or a quoted value would make a worker poll queues nobody starts
 * campaigns on, and a campaign wait for a worker that never comes: refused here, naming the variable.
 */
function queuePrefix(value: string): string {
  if (!QUEUE_PREFIX.test(value))
    throw new CliError(
      `TOOLLOOP_QUEUE_PREFIX: expected up to 100 letters, digits, ".", "_" or "-", starting with a letter or digit; got ${JSON.stringify(value)}`,
    );
  return value;
}

/** cliEnv, or its defaults where the environment is malformed: for messages about another failure. */
export function cliEnvForMessages(env: NodeJS.ProcessEnv = process.env): CliEnv {
  try {
    return cliEnv(env);
  } catch {
    return cliEnv({ ...env, TOOLLOOP_QUEUE_PREFIX: undefined });
  }
}

/**
 * The folder a relative `output.dir` is resolved against when `--base-dir` is not given: the worker's
 * outputs, and where `report build` and `campaign status` look for them. TOOLLOOP_BASE_DIR (the
 * image sets /data, the only folder its user may write), else the current folder.
 */
export function defaultBaseDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return path.resolve(cwd, envValue(env, "TOOLLOOP_BASE_DIR") ?? ".");
}

/** TOOLLOOP_BASE_DIR resolved, when it is set: a base dir the deployment states, unlike the current folder `defaultBaseDir` falls back to. */
export function statedBaseDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string | undefined {
  const v = envValue(env, "TOOLLOOP_BASE_DIR");
  return v === undefined ? undefined : path.resolve(cwd, v);
}

/** The help text of a `--base-dir` option: what the default is, and in this process what it resolves to. */
export function baseDirHelp(what: string): string {
  return `${what}; default $TOOLLOOP_BASE_DIR, else the current folder (here: ${defaultBaseDir()})`;
}

export function workflowUiLink(e: CliEnv, workflowId: string): string {
  return `${e.uiUrl}/namespaces/${encodeURIComponent(e.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
