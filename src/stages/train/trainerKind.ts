import { z } from "zod";

/**
 * Which program a training step runs: verl itself, or the stand-in trainer (trainer/standin/), a
 * small script that behaves like verl on disk and in its logs without training anything. The
 * stand-in exists for tests and the demo (no GPU, no weights here); everything it writes says so.
 */
export const trainerKind = z.enum(["verl", "standin"], { error: 'expected "verl" or "standin" (the simulated stand-in trainer)' }).default("verl");
export type TrainerKind = z.infer<typeof trainerKind>;
