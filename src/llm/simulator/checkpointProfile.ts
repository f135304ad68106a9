/**
 * The profile the stand-in trainer (trainer/standin/) writes into its checkpoints: the SIMULATED
 * learning effect. Served with `--checkpoint-profile`, the simulator scales its mistake rate per tool
 * by `mistakeRateScale[tool]` (`defaultMistakeRateScale` for tools the checkpoint never saw), so a
 * policy "trained" on a tool makes visibly fewer mistakes on it. Nothing was trained; the profile
 * says so itself (`simulated: true`), and the simulator says so in its logs and responses.
 */
import { z } from "zod";
import { fraction, nonNegativeInt } from "../../config/fields.js";
import { JsonFileError, parseJsonText, readJsonFile } from "../../util/jsonFile.js";

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

/** Errors name the flag the profile comes in by (the simulator's only way to load one) and the file. */
export class CheckpointProfileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = "CheckpointProfileError";
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? "(the file)" : path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".");
}

/** A JSON value read from `file` as a profile; errors name the field. */
function checkCheckpointProfile(raw: unknown, file: string): CheckpointProfile {
  const r = checkpointProfileSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5).map((i) => `${fieldPath(i.path)}: ${i.message}`);
    const more = r.error.issues.length > 5 ? ` (and ${r.error.issues.length - 5} more)` : "";
    throw new CheckpointProfileError(file, `--checkpoint-profile ${file}: ${issues.join("; ")}${more}`);
  }
  return r.data;
}

/** The shared reader's message (it names the file) under the flag; a missing file is likely not a stand-in checkpoint. */
function fileError(file: string, err: JsonFileError): CheckpointProfileError {
  const hint = err.problem === "not_found" ? " (is this a stand-in checkpoint?)" : "";
  return new CheckpointProfileError(file, `--checkpoint-profile: ${err.message}${hint}`);
}

/** Parses a profile's JSON text; errors name the file and the field (or the line of bad JSON). */
export function parseCheckpointProfile(text: string, file: string): CheckpointProfile {
  let raw: unknown;
  try {
    raw = parseJsonText(text, file);
  } catch (err) {
    throw err instanceof JsonFileError ? fileError(file, err) : err;
  }
  return checkCheckpointProfile(raw, file);
}

/** Reads a profile with the shared bounded reader: a folder, a device (/dev/zero) or a huge file is one clear error. */
export async function loadCheckpointProfile(file: string): Promise<LoadedCheckpointProfile> {
  let raw: unknown;
  try {
    raw = await readJsonFile(file, { maxBytes: MAX_CHECKPOINT_PROFILE_BYTES, what: "a checkpoint profile" });
  } catch (err) {
    throw err instanceof JsonFileError ? fileError(file, err) : err;
  }
  return { file, profile: checkCheckpointProfile(raw, file) };
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
