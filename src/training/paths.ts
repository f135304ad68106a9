/** Where training steps keep their files, per campaign and iteration (under the iteration's output folder). */
import fs from "node:fs";
import path from "node:path";

export function trainingPaths(iterationOutputDir: string) {
  const root = path.join(iterationOutputDir, "train");
  return {
    root,
    sft: {
      workDir: path.join(root, "sft"),
      checkpoints: path.join(root, "sft", "checkpoints"),
      merged: path.join(root, "sft", "merged"),
      datasetClass: path.join(root, "sft", "toolloop_sft_dataset.py"),
    },
    grpo: { workDir: path.join(root, "grpo"), checkpoints: path.join(root, "grpo", "checkpoints"), rewardShim: path.join(root, "grpo", "toolloop_reward.py") },
    merge: { workDir: path.join(root, "merge"), target: path.join(root, "merged") },
    serve: { workDir: path.join(root, "serve") },
  };
}

/** The installation's root (trainer/standin and the simulator live there): the first folder up with package.json and trainer/. */
export function installRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "trainer"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the toolloop installation (package.json and trainer/) above ${import.meta.dirname}`);
    dir = parent;
  }
}
