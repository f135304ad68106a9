/** The stand-in trainer's scripts (trainer/standin/, relative to the installation): simulated, for tests and the demo. */
export const STANDIN_TRAINER = {
  train: "trainer/standin/standin_trainer.py",
  merge: "trainer/standin/standin_merge.py",
  sft: "trainer/standin/standin_sft.py",
} as const;
