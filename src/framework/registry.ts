/**
 * The stages a deployment knows: specs (pure) and their handlers. The built-in set is
 * `defaultStageRegistry()`; a test (or a plugin) can add a stage by passing its spec and handler,
 * with no edit to workflows, activities or the config module.
 */
import type { ClusterJobHandler } from "./clusterJob.js";
import type { StageHandler } from "./stage.js";
import type { AnyStageSpec } from "./stageSpec.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStageHandler = StageHandler<any, any> | ClusterJobHandler<any>;

export interface StageRegistry {
  readonly specs: readonly AnyStageSpec[];
  spec(name: string): AnyStageSpec | undefined;
  handler(name: string): AnyStageHandler | undefined;
}

export function createStageRegistry(specs: readonly AnyStageSpec[], handlers: Readonly<Record<string, AnyStageHandler>>): StageRegistry {
  const byName = new Map<string, AnyStageSpec>();
  for (const s of specs) {
    if (byName.has(s.name)) throw new Error(`stage registry: two specs named "${s.name}"`);
    byName.set(s.name, s);
  }
  const missing = specs.filter((s) => !Object.hasOwn(handlers, s.name)).map((s) => s.name);
  const orphans = Object.keys(handlers).filter((n) => !byName.has(n));
  if (missing.length || orphans.length) {
    throw new Error(`stage registry: specs without a handler: ${missing.join(", ") || "none"}; handlers without a spec: ${orphans.join(", ") || "none"}`);
  }
  return {
    specs,
    spec: (name) => byName.get(name),
    handler: (name) => (Object.hasOwn(handlers, name) ? handlers[name] : undefined),
  };
}
