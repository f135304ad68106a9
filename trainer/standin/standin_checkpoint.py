"""verl's checkpoint layout, written by the stand-in trainer (SIMULATED: the weights are a placeholder).

    <default_local_dir>/global_step_N/actor/model_world_size_1_rank_0.pt   placeholder (JSON text, not torch)
    <default_local_dir>/global_step_N/actor/huggingface/config.json         says simulated
    <default_local_dir>/global_step_N/actor/toolloop_profile.json           the simulated learning effect
    <default_local_dir>/global_step_N/standin_state.json                    what resume needs (verl: data.pt)
    <default_local_dir>/latest_checkpointed_iteration.txt                   newest saved step

A step folder is written under a temporary name and renamed into place, and the latest file is
replaced atomically after it, so a kill mid-save leaves the previous checkpoint as the latest.

`SavedSteps` keeps at most N step folders as verl's checkpoint manager does with
`max_actor_ckpt_to_keep` / `max_ckpt_to_keep`: before a save it frees the oldest so that N - 1 remain
(N > 1), after it those beyond N; it counts only the steps this process saved, so a resumed run leaves
the earlier attempt's folders alone, as verl does.
"""

from __future__ import annotations

import json
import os
import shutil

LATEST_FILE = "latest_checkpointed_iteration.txt"
PROFILE_FILE = "toolloop_profile.json"
MODEL_FILE = "model_world_size_1_rank_0.pt"
STATE_FILE = "standin_state.json"
PROFILE_FORMAT = "toolloop-standin-profile/v1"
NOTE = "SIMULATED by the toolloop stand-in trainer: nothing was trained; the profile tells the LLM simulator to make fewer mistakes on the tools seen in training."


def step_dir(root: str, step: int) -> str:
    return os.path.join(root, f"global_step_{step}")


def actor_dir(root: str, step: int) -> str:
    return os.path.join(step_dir(root, step), "actor")


def latest_step(root: str) -> int | None:
    try:
        with open(os.path.join(root, LATEST_FILE), encoding="utf-8") as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _write_json(path: str, value: object) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def _replace_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint(root: str, step: int, *, profile: dict, state: dict, base_model: str | None) -> str:
    final = step_dir(root, step)
    tmp = f"{final}.tmp.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "actor", "huggingface"))
    placeholder = {"simulated": True, "note": NOTE, "format": "toolloop-standin-weights/v1", "step": step, "base_model": base_model}
    _write_json(os.path.join(tmp, "actor", MODEL_FILE), placeholder)
    _write_json(
        os.path.join(tmp, "actor", "huggingface", "config.json"),
        {"architectures": ["ToolloopStandinSimulated"], "model_type": "toolloop-standin", "simulated": True, "note": NOTE, "base_model": base_model},
    )
    _write_json(os.path.join(tmp, "actor", PROFILE_FILE), profile)
    _write_json(os.path.join(tmp, STATE_FILE), state)
    shutil.rmtree(final, ignore_errors=True)  # a rerun with resume_mode=disable overwrites, as verl does
    os.replace(tmp, final)
    _replace_text(os.path.join(root, LATEST_FILE), str(step))
    return os.path.join(final, "actor")


class SavedSteps:
    def __init__(self, root: str, max_to_keep: int | None):
        self.root = root
        self.max_to_keep = max_to_keep
        self.saved: list[int] = []

    def _remove(self, steps: list[int]) -> None:
        for step in steps:
            print(f"Checkpoint manager remove previous save local path: {os.path.abspath(step_dir(self.root, step))}", flush=True)
            shutil.rmtree(step_dir(self.root, step), ignore_errors=True)

    def before_save(self) -> None:
        n = self.max_to_keep
        if n and n > 1 and len(self.saved) >= n:
            start = len(self.saved) - n + 1
            self._remove(self.saved[:start])
            self.saved = self.saved[start:]

    def after_save(self, step: int) -> None:
        self.saved.append(step)
        n = self.max_to_keep
        if n and n > 0 and len(self.saved) > n:
            start = len(self.saved) - n
            self._remove(self.saved[:start])
            self.saved = self.saved[start:]


def load_state(root: str, step: int) -> dict:
    with open(os.path.join(step_dir(root, step), STATE_FILE), encoding="utf-8") as f:
        return json.load(f)


def read_profile(model_path: str | None) -> dict | None:
    """The profile of the model training starts from (a merged stand-in checkpoint), if it has one."""
    if not model_path:
        return None
    for candidate in (os.path.join(model_path, PROFILE_FILE), os.path.join(model_path, "actor", PROFILE_FILE)):
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as f:
                profile = json.load(f)
            if isinstance(profile, dict) and profile.get("format") == PROFILE_FORMAT:
                return profile
    return None
