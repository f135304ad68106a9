"""toolloop's STAND-IN for verl's SFT trainer (`python -m verl.trainer.sft_trainer_ray`). SIMULATED:
nothing is trained and no GPU is used.

It takes the same Hydra overrides as verl's SFT trainer (model.path, data.train_files,
data.train_batch_size, trainer.*), reads the SFT parquet (verl's multi-turn `messages` column),
counts the tools whose calls the assistant turns teach, prints verl-style metric lines (a falling
train/loss), and saves checkpoints in the SFT trainer's layout: `<default_local_dir>/global_step_N/`
(the placeholder model file and toolloop_profile.json directly in it) and
`latest_checkpointed_iteration.txt`. The profile starts from the base model's (when it is a merged
stand-in model) and lowers the mistake-rate scale of every tool seen, less than GRPO does: imitation
teaches the call shapes, the reward teaches what is right.

Environment: TOOLLOOP_STANDIN_STEP_SECONDS (sleep per step), TOOLLOOP_STANDIN_FAIL_AT_STEP and
TOOLLOOP_STANDIN_FAIL_ONCE (as the GRPO stand-in).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from standin_checkpoint import LATEST_FILE, MODEL_FILE, NOTE, PROFILE_FILE, PROFILE_FORMAT, SavedSteps, latest_step, read_profile, step_dir  # noqa: E402
from standin_overrides import OverrideError, parse_overrides  # noqa: E402
from standin_policy import MIN_SCALE  # noqa: E402
from standin_trainer import env_int, log, metric_line  # noqa: E402

# Samples of a tool that take its mistake-rate scale a third of the way down (SFT's simulated effect).
SFT_SAMPLES = 24
SFT_MAX_GAIN = 0.35
_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.S)


def read_conversations(paths: list[str]) -> list[list[dict]]:
    import pyarrow.parquet as pq

    out: list[list[dict]] = []
    for p in paths:
        if not os.path.isfile(p):
            raise OverrideError(f"data.train_files: no such file {p!r}")
        for i, row in enumerate(pq.read_table(p).to_pylist()):
            messages = row.get("messages")
            if not isinstance(messages, list) or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
                raise ValueError(f"{p} row {i}: messages must be a list of {{role, content}}")
            out.append(messages)
    return out


def check_dataset_class(path: object, name: object) -> None:
    """The dataset class verl would load (its file and class), read without importing it: it imports torch."""
    if path is None:
        return
    import ast

    if not os.path.isfile(str(path)):
        raise OverrideError(f"data.custom_cls.path: no such file {path!r}")
    with open(str(path), encoding="utf-8") as f:
        classes = {n.name for n in ast.parse(f.read()).body if isinstance(n, ast.ClassDef)}
    if name not in classes:
        raise OverrideError(f"data.custom_cls.name: {path!r} defines no class {name!r} (it defines {sorted(classes)})")


def taught_tools(messages: list[dict]) -> list[str]:
    names: list[str] = []
    for m in messages:
        # Weight 0: an earlier turn shown as context (toolloop_sft_dataset.py trains it not), so it teaches nothing.
        if m.get("role") != "assistant" or m.get("weight") == 0:
            continue
        for block in _CALL.findall(m["content"]):
            try:
                name = json.loads(block).get("name")
            except ValueError:
                continue
            if isinstance(name, str):
                names.append(name)
    return names


def write_json(path: str, value: object) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def save(root: str, step: int, profile: dict, state: dict, base_model: str | None) -> None:
    final = step_dir(root, step)
    tmp = f"{final}.tmp.{os.getpid()}"
    os.makedirs(tmp, exist_ok=True)
    write_json(os.path.join(tmp, MODEL_FILE), {"simulated": True, "note": NOTE, "format": "toolloop-standin-weights/v1", "step": step, "base_model": base_model})
    write_json(os.path.join(tmp, PROFILE_FILE), profile)
    write_json(os.path.join(tmp, "standin_state.json"), state)
    if os.path.isdir(final):
        import shutil

        shutil.rmtree(final)
    os.replace(tmp, final)
    latest = os.path.join(root, LATEST_FILE)
    with open(latest + ".tmp", "w", encoding="utf-8") as f:
        f.write(str(step))
    os.replace(latest + ".tmp", latest)
    print(f"Saved checkpoint to {final}", flush=True)


def run(argv: list[str]) -> None:
    ov = parse_overrides(argv)
    for key, value in ov.unknown.items():
        log(f"ignoring override {key}={value!r} (verl's SFT trainer would use it; the stand-in does not)")
    # verl loads the class before it reads a row: a missing file or class fails the job there.
    check_dataset_class(ov.get("data.custom_cls.path"), ov.get("data.custom_cls.name"))
    conversations = read_conversations(ov.paths("data.train_files"))
    if not conversations:
        raise OverrideError("data.train_files: the SFT set is empty")
    batch = ov.int_value("data.train_batch_size", 1)
    epochs = ov.int_value("trainer.total_epochs", 1)
    steps_per_epoch = max(1, math.ceil(len(conversations) / batch))
    total = ov.optional_int("trainer.total_training_steps", 1) or steps_per_epoch * epochs
    save_freq = ov.int_value("trainer.save_freq")
    keep = ov.optional_int("trainer.max_ckpt_to_keep", 1)
    project, experiment = str(ov.get("trainer.project_name")), str(ov.get("trainer.experiment_name"))
    root = str(ov.get("trainer.default_local_dir") or os.path.join("checkpoints", project, experiment))
    model_path = ov.get("model.path")
    base = read_profile(str(model_path) if model_path else None) or {}
    os.makedirs(root, exist_ok=True)
    saved_steps = SavedSteps(root, keep)

    seen: dict[str, int] = {}
    start = 0
    if str(ov.get("trainer.resume_mode")) == "auto" and (latest := latest_step(root)) is not None:
        with open(os.path.join(step_dir(root, latest), "standin_state.json"), encoding="utf-8") as f:
            seen = {k: int(v) for k, v in json.load(f)["seen"].items()}
        start = latest
        log(f"resuming from global_step_{latest}")
    fail_at = env_int("TOOLLOOP_STANDIN_FAIL_AT_STEP")
    marker = os.path.join(root, ".standin_failed_once")
    step_seconds = float(os.environ.get("TOOLLOOP_STANDIN_STEP_SECONDS", "0.2") or 0)

    def profile(step: int) -> dict:
        scales = dict(base.get("mistakeRateScale") or {})
        trained = dict(base.get("trainedTools") or {})
        default = float(base.get("defaultMistakeRateScale", 1.0))
        for tool, n in seen.items():
            trained[tool] = int(trained.get(tool, 0)) + n
            gain = SFT_MAX_GAIN * n / (n + SFT_SAMPLES)
            scales[tool] = round(max(MIN_SCALE, float(scales.get(tool, default)) * (1 - gain)), 4)
        return {
            "simulated": True,
            "note": NOTE,
            "format": PROFILE_FORMAT,
            "steps": step,
            "trainedTools": dict(sorted(trained.items())),
            "mistakeRateScale": dict(sorted(scales.items())),
            "defaultMistakeRateScale": default,
            "meanReward": float(base.get("meanReward", 0.0)),
            "baseModel": model_path,
        }

    for step in range(start + 1, total + 1):
        if fail_at is not None and step == fail_at and not (os.environ.get("TOOLLOOP_STANDIN_FAIL_ONCE") == "1" and os.path.exists(marker)):
            if os.environ.get("TOOLLOOP_STANDIN_FAIL_ONCE") == "1":
                open(marker, "w").close()
            raise RuntimeError(f"stand-in SFT failing at step {step} on command (TOOLLOOP_STANDIN_FAIL_AT_STEP)")
        pos = (step - 1) % steps_per_epoch
        for messages in conversations[pos * batch : (pos + 1) * batch]:
            for tool in taught_tools(messages):
                seen[tool] = seen.get(tool, 0) + 1
        loss = round(2.0 * math.exp(-step / max(1, total / 3)) + 0.1, 4)
        print(metric_line({"train/loss": loss, "train/lr": 1e-5, "standin/simulated": 1, "training/global_step": step, "training/total_steps": total, "training/epoch": (step - 1) // steps_per_epoch}, step), flush=True)
        if step == total or (save_freq > 0 and step % save_freq == 0):
            saved_steps.before_save()
            save(root, step, profile(step), {"simulated": True, "step": step, "seen": seen}, str(model_path) if model_path else None)
            saved_steps.after_save(step)
        if step_seconds > 0 and step < total:
            time.sleep(step_seconds)
    log(f"done: {total} steps (SIMULATED, nothing was trained)")


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda signum, _f: sys.exit(128 + signum))
    log("SIMULATED: this is the toolloop stand-in for verl's SFT trainer; nothing is trained, no GPU is used")
    try:
        run(argv)
        return 0
    except Exception:
        print(f"Error executing job with overrides: {argv!r}", file=sys.stderr, flush=True)
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
