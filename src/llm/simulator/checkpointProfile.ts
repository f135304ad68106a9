/**
 * The profile the stand-in trainer (trainer/standin/) writes into its checkpoints: the SIMULATED
 * learning effect. Served with `--checkpoint-profile`, the simulator scales its mistake rate per tool
 * by `mistakeRateScale[tool]` (`defaultMistakeRateScale` for tools the checkpoint never saw), so a
 * policy "trained" on a tool makes visibly fewer mistakes on it. Nothing was trained; the profile
 * says so itself (`simulated: true`), and the simulator says so in its logs and responses.
 */
import { readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { fraction, nonNegativeInt } from "../../config/fields.js";

export const CHECKPOINT_PROFILE_FORMAT = "toolloop-standin-profile/v1";
/** A profile is a few kilobytes; anything near this is not one. */
export const MAX_CHECKPOINT_PROFILE_BYTES = 4 * 1024 * 1024;
const MAX_TOOLS = 100_000;

const toolName = z.string().min(1, "expected a non-empty tool name").max(256, "expected a tool name of at most 256 characters");
const toolMap = <T extends z.ZodType>(value: T) =>
  z.record(toolName, value).refine((m) => Object.keys(m).length <= MAX_TOOLS, `expected at most ${MAX_TOOLS} tools`);

export const checkpointProfileSchema = z.object({
  simulated: z.literal(true, { error: "expected true (a stand-in checkpoint profile always says it is simulated)" }),
  note: z.string().max(4000, "expected at most 4000 characters").optional(),
  format: z.literal(CHECKPOINT_PROFILE_FORMAT, { error: `expected "${CHECKPOINT_PROFILE_FORMAT}"` }),
  steps: nonNegativeInt,
  trainedTools: toolMap(nonNegativeInt),
  mistakeRateScale: toolMap(fraction),
  defaultMistakeRateScale: fraction.default(1),
  meanReward: z.number({ error: "expected a number" }).refine(Number.isFinite, "expected a finite number"),
});

export type CheckpointProfile = z.infer<typeof checkpointProfileSchema>;

export interface LoadedCheckpointProfile {
  file: string;
  profile: CheckpointProfile;
}

export class CheckpointProfileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`checkpoint profile ${file}: ${message}`);
    this.name = "CheckpointProfileError";
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? "(the file)" : path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".");
}

/** Parses a profile's JSON text; errors name the file and the field. */
export function parseCheckpointProfile(text: string, file: string): CheckpointProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CheckpointProfileError(file, `not valid JSON (${(err as Error).message})`);
  }
  const r = checkpointProfileSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5).map((i) => `${fieldPath(i.path)}: ${i.message}`);
    const more = r.error.issues.length > 5 ? ` (and ${r.error.issues.length - 5} more)` : "";
    throw new CheckpointProfileError(file, `${issues.join("; ")}${more}`);
  }
  return r.data;
}

export async function loadCheckpointProfile(file: string): Promise<LoadedCheckpointProfile> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointProfileError(file, code === "ENOENT" ? "no such file (is this a stand-in checkpoint?)" : `cannot read (${code ?? String(err)})`);
  }
  if (size > MAX_CHECKPOINT_PROFILE_BYTES)
    throw new CheckpointProfileError(file, `${size} bytes, more than a profile can be (${MAX_CHECKPOINT_PROFILE_BYTES})`);
  return { file, profile: parseCheckpointProfile(await readFile(file, "utf8"), file) };
}

/** The factor on the base mistake rate for a call of `tool`. */
export function mistakeRateScaleFor(profile: CheckpointProfile, tool: string): number {
  return Object.hasOwn(profile.mistakeRateScale, tool) ? profile.mistakeRateScale[tool]! : profile.defaultMistakeRateScale;
}

/** One line for logs: what the served checkpoint claims, labelled simulated. */
export function describeCheckpointProfile({ file, profile }: LoadedCheckpointProfile): string {
  const tools = Object.entries(profile.mistakeRateScale)
    .sort(([a], [b]) => a.localeCompare(b))
    .slice(0, 20)
    .map(([t, s]) => `${t} x${s}`);
  const more = Object.keys(profile.mistakeRateScale).length > 20 ? ", ..." : "";
  return (
    `SIMULATED policy of a stand-in checkpoint (nothing was trained): profile ${file}, ${profile.steps} steps, mean reward ${profile.meanReward}; ` +
    `mistake rate scaled per tool: ${tools.join(", ")}${more}${tools.length > 0 ? "; " : ""}other tools x${profile.defaultMistakeRateScale}`
  );
}
