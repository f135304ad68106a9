"""Loads verl's custom reward function from a file and scores rollouts through it, as verl does.

The batch form (`<name>_batch` or `compute_score_batch`, called with verl's batch keywords
data_sources/solution_strs/ground_truths/extra_infos) is used when the module has one, else the
single form per item. Async forms are awaited. A result is a number or a dict with "score".
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os


class RewardFunctionError(RuntimeError):
    pass


def _resolve(value):
    return asyncio.run(value) if inspect.isawaitable(value) else value


def _as_result(value, where: str) -> dict:
    if isinstance(value, dict):
        score = value.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise RewardFunctionError(f"{where}: the reward dict has no numeric 'score' (got {value!r})")
        return {**value, "score": float(score)}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RewardFunctionError(f"{where}: expected a number or a dict with 'score' (got {value!r})")
    return {"score": float(value)}


class RewardFunction:
    def __init__(self, path: str, name: str):
        if not os.path.isfile(path):
            raise RewardFunctionError(f"reward.custom_reward_function.path: no such file {path!r}")
        spec = importlib.util.spec_from_file_location("custom_module", path)
        if spec is None or spec.loader is None:
            raise RewardFunctionError(f"reward.custom_reward_function.path: cannot load {path!r} as a Python module")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.single = getattr(module, name, None)
        if not callable(self.single):
            raise RewardFunctionError(f"reward.custom_reward_function.name: {path!r} has no function {name!r}")
        self.batch = next((getattr(module, n) for n in (f"{name}_batch", "compute_score_batch") if callable(getattr(module, n, None))), None)
        self.description = f"{os.path.basename(path)}:{getattr(self.batch, '__name__', name) if self.batch else name} ({'batch' if self.batch else 'per item'})"

    def score(self, items: list[dict]) -> list[dict]:
        if not items:
            return []
        if self.batch is not None:
            out = _resolve(
                self.batch(
                    data_sources=[i["data_source"] for i in items],
                    solution_strs=[i["solution_str"] for i in items],
                    ground_truths=[i["ground_truth"] for i in items],
                    extra_infos=[i["extra_info"] for i in items],
                )
            )
            if not isinstance(out, (list, tuple)) or len(out) != len(items):
                raise RewardFunctionError(f"the batch reward returned {type(out).__name__} of length {len(out) if hasattr(out, '__len__') else '?'} for {len(items)} items")
            return [_as_result(v, f"batch reward item {k}") for k, v in enumerate(out)]
        return [
            _as_result(_resolve(self.single(i["data_source"], i["solution_str"], i["ground_truth"], i["extra_info"])), f"reward item {k}")
            for k, i in enumerate(items)
        ]
