/**
 * The training chain of a loop test: train.sft -> train.grpo -> train.merge -> serve.policy with the
 * stand-in trainer (SIMULATED: it trains nothing) and the simulator serving its checkpoint.
 */
export function standinTrainingStages(p: { stepSeconds: string; mistakeRate: number; serveSeed: number; grpoEpochs?: number }): Record<string, unknown>[] {
  const watch = { windowSeconds: 10, pollSeconds: 1 };
  const env = { TOOLLOOP_STANDIN_STEP_SECONDS: p.stepSeconds };
  return [
    { name: "train.sft", trainer: "standin", baseModel: "toolloop-sim-policy", sft: { trainBatchSize: 16, totalEpochs: 1 }, env, watch },
    {
      name: "train.grpo",
      trainer: "standin",
      baseModel: "toolloop-sim-policy",
      grpo: { trainBatchSize: 16, ppoMiniBatchSize: 16, rolloutN: 2, saveFreq: 4, totalEpochs: p.grpoEpochs ?? 2 },
      env,
      watch,
    },
    { name: "train.merge", trainer: "standin", watch },
    { name: "serve.policy", engine: "simulator", simulator: { mistakeRate: p.mistakeRate, seed: p.serveSeed, idleExitMinutes: 10 }, watch },
  ];
}
