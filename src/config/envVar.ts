/**
 * What an environment variable of a cluster job may be: one rule for the config schema (a train
 * stage's `env`, the Ray launcher's `runtimeEnv.envVars`, an endpoint's `apiKeyEnv`) and the
 * launchers' last check (assertJobRequest), so validation refuses what a launch would. Pure.
 */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const ENV_NAME_RULE = "a letter or '_', then letters, digits or '_'; at most 128";
export const ENV_VALUE_RULE = "must be a string without NUL characters";

/** Why `name` cannot be an environment variable's name, or undefined. */
export function envNameProblem(name: string): string | undefined {
  return ENV_NAME.test(name) ? undefined : `${JSON.stringify(name)} is not a valid environment variable name (${ENV_NAME_RULE})`;
}

/** Why `value` cannot be an environment variable's value (the exec call cuts at a NUL), or undefined. */
export function envValueProblem(value: unknown): string | undefined {
  return typeof value === "string" && !value.includes("\0") ? undefined : ENV_VALUE_RULE;
}
