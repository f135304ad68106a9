/** The built-in stages with their handlers (workers only: handlers do I/O). */
import { createStageRegistry, type StageRegistry } from "../framework/registry.js";
import { STAGE_HANDLERS } from "./handlers.js";
import { STAGE_SPECS } from "./specs.js";

let builtIn: StageRegistry | undefined;
export function defaultStageRegistry(): StageRegistry {
  return (builtIn ??= createStageRegistry(STAGE_SPECS, STAGE_HANDLERS));
}
