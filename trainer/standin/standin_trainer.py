#!/usr/bin/env python3
"""toolloop STAND-IN TRAINER: behaves like `python -m verl.trainer.main_ppo` on disk and in its logs,
and trains nothing (SIMULATED). For tests and the demo, where there is no GPU and no model.

It takes verl's Hydra overrides, reads the verl parquet, makes `rollout.n` simulated responses per
prompt (standin_policy.py), scores them through the custom reward function verl would load (the
generated shim, which calls the live toolloop reward service), prints verl-style metric lines, and
saves verl's checkpoint layout with a profile the LLM simulator reads when it serves the checkpoint.

Environment (on command, for tests):
  TOOLLOOP_STANDIN_STEP_SECONDS   sleep per step (default 0.2)
  TOOLLOOP_STANDIN_FAIL_AT_STEP   k: fail with a traceback at the start of step k (exit 1)
  TOOLLOOP_STANDIN_FAIL_ONCE      1: fail only the first time (a marker file under default_local_dir)
See README.md next to this file.
"""

from __future__ import annotations

import json
import math
import os
import pprint
import signal
import sys
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the installation (it may be read-only on a cluster)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from standin_checkpoint import PROFILE_FORMAT, NOTE, SavedSteps, latest_step, load_state, read_profile, save_checkpoint, step_dir  # noqa: E402
from standin_overrides import OverrideError, Overrides, parse_overrides  # noqa: E402
from standin_policy import IRRELEVANCE_KEY, MIN_SCALE, SimulatedPolicy, seeded_rng  # noqa: E402
from standin_reward import RewardFunction  # noqa: E402

# Simulated transfer to tools never trained on: their mistake rate falls by up to this share of the mean reward.
TRANSFER = 0.5

TAG = "[toolloop stand-in trainer]"
FAIL_ONCE_MARKER = ".standin_failed_once"
VAL_ROWS = 256
REWARD_EMA = 0.3


def log(message: str) -> None:
    print(f"{TAG} {message}", flush=True)


class StandinFailure(RuntimeError):
    pass


def metric_line(metrics: dict[str, float], step: int) -> str:
    """verl's console format (verl/utils/logger/aggregate_logger.py: concat_dict_to_str)."""
    return " - ".join([f"step:{step}"] + [f"{k}:{pprint.pformat(v)}" for k, v in metrics.items()])


def read_rows(paths: list[str], key: str) -> list[dict]:
    import pyarrow.parquet as pq

    rows: list[dict] = []
    for p in paths:
        if not os.path.isfile(p):
            raise OverrideError(f"{key}: no such file {p!r}")
        for i, row in enumerate(pq.read_table(p).to_pylist()):
            where = f"{p} row {i}"
            if not isinstance(row.get("data_source"), str):
                raise ValueError(f"{where}: data_source must be a string")
            if not isinstance(row.get("prompt"), list):
                raise ValueError(f"{where}: prompt must be a list of messages")
            rm = row.get("reward_model")
            if not isinstance(rm, dict) or not isinstance(rm.get("ground_truth"), str):
                raise ValueError(f"{where}: reward_model.ground_truth must be a string")
            if row.get("extra_info") is not None and not isinstance(row["extra_info"], dict):
                raise ValueError(f"{where}: extra_info must be a struct")
            rows.append(row)
    return rows


def sample_id(row: dict, fallback: int) -> str:
    info = row.get("extra_info") or {}
    return str(info.get("sample_id") or info.get("index") or fallback)


def env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise OverrideError(f"{name} must be an integer (got {raw!r})") from None


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def grpo_advantages(scores: list[float], n: int) -> list[float]:
    """GRPO's outcome advantage: each response's score against its prompt group's mean and std (n=1: the score itself)."""
    out: list[float] = []
    for g in range(0, len(scores), n):
        group = scores[g : g + n]
        if len(group) == 1:
            out.append(group[0])
            continue
        mu = mean(group)
        std = math.sqrt(sum((s - mu) ** 2 for s in group) / (len(group) - 1))
        out.extend((s - mu) / (std + 1e-6) for s in group)
    return out


class Trainer:
    def __init__(self, ov: Overrides):
        self.ov = ov
        self.train_rows = read_rows(ov.paths("data.train_files"), "data.train_files")
        if not self.train_rows:
            raise OverrideError("data.train_files: the training set is empty")
        self.val_rows = read_rows(ov.paths("data.val_files"), "data.val_files") if ov.get("data.val_files") else []
        self.batch_size = ov.int_value("data.train_batch_size", 1)
        self.n = ov.int_value("actor_rollout_ref.rollout.n", 1)
        self.seed = ov.int_value("data.seed", 0)
        self.lr = ov.float_value("actor_rollout_ref.actor.optim.lr")
        self.save_freq = ov.int_value("trainer.save_freq")
        self.keep = ov.optional_int("trainer.max_actor_ckpt_to_keep", 1)
        self.test_freq = ov.int_value("trainer.test_freq")
        epochs = ov.int_value("trainer.total_epochs", 1)
        self.steps_per_epoch = max(1, len(self.train_rows) // self.batch_size)
        self.total_steps = ov.optional_int("trainer.total_training_steps", 1) or self.steps_per_epoch * epochs
        self.resume_mode = str(ov.get("trainer.resume_mode"))
        if self.resume_mode not in ("auto", "disable"):
            raise OverrideError(f"trainer.resume_mode must be auto or disable for the stand-in (got {self.resume_mode!r})")
        project, experiment = str(ov.get("trainer.project_name")), str(ov.get("trainer.experiment_name"))
        self.root = str(ov.get("trainer.default_local_dir") or os.path.join("checkpoints", project, experiment))
        self.saved_steps = SavedSteps(self.root, self.keep)
        self.model_path = ov.get("actor_rollout_ref.model.path")
        self.reward = RewardFunction(ov.require_str("reward.custom_reward_function.path"), str(ov.get("reward.custom_reward_function.name")))
        self.base_profile = read_profile(str(self.model_path) if self.model_path else None)
        start_scale = dict((self.base_profile or {}).get("mistakeRateScale") or {})
        default_scale = float((self.base_profile or {}).get("defaultMistakeRateScale", 1.0))
        self.policy = SimulatedPolicy(seed=self.seed, start_scale=start_scale, default_start_scale=default_scale)
        self.reward_ema: dict[str, float] = {}
        self.last_mean_reward = 0.0
        self.global_step = 0

    # -- resume --------------------------------------------------------------------------------
    def resume(self) -> None:
        if self.resume_mode == "disable":
            log("resume_mode=disable: training from scratch")
            return
        step = latest_step(self.root)
        if step is None:
            print("Training from scratch", flush=True)
            return
        folder = step_dir(self.root, step)
        print(f"Load from checkpoint folder: {folder}", flush=True)
        state = load_state(self.root, step)
        self.policy.seen = {k: int(v) for k, v in state["seen"].items()}
        self.reward_ema = {k: float(v) for k, v in state["reward_ema"].items()}
        self.last_mean_reward = float(state.get("mean_reward", 0.0))
        self.global_step = step
        print(f"Setting global step to {step}", flush=True)
        log(f"resuming from global_step_{step} ({folder})")

    # -- one step --------------------------------------------------------------------------------
    def batch_rows(self, step: int) -> list[tuple[int, dict]]:
        epoch, pos = divmod(step - 1, self.steps_per_epoch)
        order = list(range(len(self.train_rows)))
        seeded_rng("standin-shuffle", self.seed, epoch).shuffle(order)
        picked = order[pos * self.batch_size : (pos + 1) * self.batch_size]
        return [(i, self.train_rows[i]) for i in picked]

    def rollouts(self, step: int, rows: list[tuple[int, dict]], n: int):
        items, meta = [], []
        for i, row in rows:
            sid = sample_id(row, i)
            for k in range(n):
                r = self.policy.rollout(step, sid, k, row["reward_model"]["ground_truth"], row.get("extra_info"))
                items.append(
                    {"data_source": row["data_source"], "solution_str": r.text, "ground_truth": row["reward_model"]["ground_truth"], "extra_info": row.get("extra_info")}
                )
                meta.append(r)
        return items, meta

    def validate(self, step: int) -> dict[str, float]:
        rows = list(enumerate(self.val_rows[:VAL_ROWS]))
        if not rows:
            return {}
        items, _ = self.rollouts(-1 - step, rows, 1)
        results = self.reward.score(items)
        by_source: dict[str, list[float]] = {}
        for item, res in zip(items, results):
            by_source.setdefault(item["data_source"], []).append(res["score"])
        return {f"val-core/{src}/reward/mean@1": mean(scores) for src, scores in by_source.items()}

    def step(self, step: int) -> dict[str, float]:
        started = time.monotonic()
        rows = self.batch_rows(step)
        items, meta = self.rollouts(step, rows, self.n)
        results = self.reward.score(items)
        scores = [r["score"] for r in results]
        advantages = grpo_advantages(scores, self.n)
        lengths = [max(1, len(i["solution_str"]) // 4) for i in items]  # about 4 characters a token (SIMULATED)
        for g, (_, row) in enumerate(rows):
            tools = meta[g * self.n].tools
            group_mean = mean(scores[g * self.n : (g + 1) * self.n])
            for t in set(tools) or {IRRELEVANCE_KEY}:
                prev = self.reward_ema.get(t)
                self.reward_ema[t] = group_mean if prev is None else (1 - REWARD_EMA) * prev + REWARD_EMA * group_mean
            self.policy.observe(tools)
        self.last_mean_reward = mean(scores)
        epoch = (step - 1) // self.steps_per_epoch
        metrics: dict[str, float] = {
            "critic/score/mean": mean(scores),
            "critic/score/max": max(scores),
            "critic/score/min": min(scores),
            "critic/rewards/mean": mean(scores),
            "critic/rewards/max": max(scores),
            "critic/rewards/min": min(scores),
            "critic/advantages/mean": mean(advantages),
            "critic/advantages/max": max(advantages),
            "critic/advantages/min": min(advantages),
            "response_length/mean": mean(lengths),
            "response_length/max": max(lengths),
            "actor/lr": self.lr,
        }
        for key in ("format", "execution", "reasoning"):
            vals = [r[key] for r in results if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
            if vals:
                metrics[f"standin/reward/{key}/mean"] = mean(vals)
        metrics["standin/corrupted_fraction"] = mean([1.0 if m.corrupted else 0.0 for m in meta])
        metrics["standin/simulated"] = 1
        metrics["training/global_step"] = step
        metrics["training/total_steps"] = self.total_steps
        metrics["training/epoch"] = epoch
        metrics["timing_s/step"] = round(time.monotonic() - started, 4)
        return metrics

    # -- profile ---------------------------------------------------------------------------------
    def profile(self, step: int) -> dict:
        prior = self.base_profile or {}
        trained = {k: int(v) for k, v in (prior.get("trainedTools") or {}).items()}
        scales = {k: float(v) for k, v in (prior.get("mistakeRateScale") or {}).items()}
        for tool, seen in self.policy.seen.items():
            if tool == IRRELEVANCE_KEY:
                continue
            trained[tool] = trained.get(tool, 0) + seen
            start = self.policy.start_scale.get(tool, self.policy.default_start_scale)
            reward = min(1.0, max(0.0, self.reward_ema.get(tool, 0.0)))
            scales[tool] = round(min(1.0, max(MIN_SCALE, start * self.policy.learned_factor(tool) * (1 - 0.5 * reward))), 4)
        return {
            "simulated": True,
            "note": NOTE,
            "format": PROFILE_FORMAT,
            "steps": step,
            "trainedTools": dict(sorted(trained.items())),
            "mistakeRateScale": dict(sorted(scales.items())),
            # Simulated transfer: tools never seen in training improve too, less than trained ones.
            "defaultMistakeRateScale": round(
                max(MIN_SCALE, float(prior.get("defaultMistakeRateScale", 1.0)) * (1 - TRANSFER * min(1.0, max(0.0, self.last_mean_reward)))), 4
            ),
            "meanReward": round(self.last_mean_reward, 4),
            "baseModel": self.model_path,
        }

    def save(self, step: int) -> None:
        state = {"simulated": True, "step": step, "seen": self.policy.seen, "reward_ema": self.reward_ema, "mean_reward": self.last_mean_reward}
        self.saved_steps.before_save()
        actor = save_checkpoint(self.root, step, profile=self.profile(step), state=state, base_model=str(self.model_path) if self.model_path else None)
        self.saved_steps.after_save(step)
        print(f"local_global_step_folder: {step_dir(self.root, step)}", flush=True)
        log(f"saved SIMULATED checkpoint global_step_{step} ({actor})")

    # -- loop ----------------------------------------------------------------------------------
    def fit(self) -> None:
        fail_at = env_int("TOOLLOOP_STANDIN_FAIL_AT_STEP")
        fail_once = os.environ.get("TOOLLOOP_STANDIN_FAIL_ONCE", "") == "1"
        step_seconds = float(os.environ.get("TOOLLOOP_STANDIN_STEP_SECONDS", "0.2"))
        os.makedirs(self.root, exist_ok=True)
        self.resume()
        print(f"Size of train dataloader: {self.steps_per_epoch}, Size of val dataloader: {1 if self.val_rows else 0}", flush=True)
        print(f"Total training steps: {self.total_steps}", flush=True)
        log(f"reward function: {self.reward.description}; rollout.n={self.n}; train_batch_size={self.batch_size}; checkpoints in {self.root}")
        if self.global_step >= self.total_steps:
            log(f"global_step_{self.global_step} already reaches total_training_steps={self.total_steps}: nothing to do")
            return
        if self.val_rows and self.global_step == 0:
            val = self.validate(0)
            print(metric_line(val, 0), flush=True)
        for step in range(self.global_step + 1, self.total_steps + 1):
            if fail_at == step:
                marker = os.path.join(self.root, FAIL_ONCE_MARKER)
                if fail_once and os.path.exists(marker):
                    log(f"TOOLLOOP_STANDIN_FAIL_ONCE: {marker} exists, so step {step} does not fail again")
                else:
                    if fail_once:
                        with open(marker, "w", encoding="utf-8") as f:
                            f.write(f"the stand-in trainer failed on command at step {step}\n")
                    raise StandinFailure(f"TOOLLOOP_STANDIN_FAIL_AT_STEP={step}: simulated failure of the stand-in trainer at step {step} (on command)")
            metrics = self.step(step)
            last = step == self.total_steps
            if last or (self.test_freq > 0 and step % self.test_freq == 0):
                metrics.update(self.validate(step))
            print(metric_line(metrics, step), flush=True)
            self.global_step = step
            # As verl 0.9.1's PPO trainer: nothing is saved unless save_freq > 0, not even the last step.
            if self.save_freq > 0 and (last or step % self.save_freq == 0):
                self.save(step)
            if step_seconds > 0 and not last:
                time.sleep(step_seconds)
        log(f"done: {self.total_steps} steps (SIMULATED, nothing was trained)")


def main(argv: list[str]) -> int:
    def on_term(signum, _frame):
        log(f"signal {signum}: stopping now (the latest saved checkpoint stays the latest)")
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    log("SIMULATED: this is the toolloop stand-in trainer, not verl; nothing is trained, no GPU is used")
    try:
        ov = parse_overrides(argv)
        for key, value in ov.unknown.items():
            log(f"ignoring override {key}={value!r} (verl would use it; the stand-in does not)")
        log("config: " + json.dumps({k: ov.get(k) for k in sorted(ov.values)}, default=str))
        Trainer(ov).fit()
        return 0
    except Exception:
        print(f"Error executing job with overrides: {argv!r}", file=sys.stderr, flush=True)
        traceback.print_exc()
        sys.stderr.flush()
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
