/**
 * The run-time check shared by the stages that convene a judge committee (repair.labels,
 * verify.judges): every member's role must be configured. The config parser checks this too; a stage
 * checks again because a stored config may predate a role's removal, and names the field path the
 * same way a config error does.
 */
import { StageInputError } from "../framework/stage.js";
import type { CommitteeConfig } from "./committeeConfig.js";

export function checkCommitteeRoles(ctx: {
  config: { stages: readonly { name: string }[]; roles: Record<string, unknown> };
  stage: { name: string; committee: CommitteeConfig };
}): void {
  const stageIndex = ctx.config.stages.findIndex((s) => s.name === ctx.stage.name);
  ctx.stage.committee.members.forEach((m, j) => {
    if (!Object.hasOwn(ctx.config.roles, m.role))
      throw new StageInputError(
        `stages[${stageIndex}].committee.members[${j}].role: the ${m.role} role is not configured; add roles.${m.role} ({ "endpoint": ..., "model": ... })`,
      );
  });
}
