"""Test driver for the generated reward shims (standard library only).

stdin: {"cases": [{"shim": path, "item": {...}}], "verl_noise": bool}
stdout: {"single": [...], "batch": [...], "async": [...]} in case order, each the shim's result dict.
Each shim is loaded as verl does (a module from a file path); the batch form gets all of a shim's
cases in one call, the async form gets them awaited concurrently on one event loop.
"""

import asyncio
import importlib.util
import json
import sys


def load(path, cache={}):
    if path not in cache:
        spec = importlib.util.spec_from_file_location("toolloop_reward_%d" % len(cache), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cache[path] = module
    return cache[path]


def main():
    request = json.load(sys.stdin)
    cases = request["cases"]
    for case in cases:
        info = case["item"].get("extra_info")
        if request.get("verl_noise") and isinstance(info, dict):
            # verl adds fields that are not JSON (numpy scalars, objects) to extra_info.
            info["rollout_reward_scores"] = {}
            info["num_turns"] = object()
    out = {"single": [None] * len(cases), "batch": [None] * len(cases), "async": [None] * len(cases)}
    by_shim = {}
    for i, case in enumerate(cases):
        by_shim.setdefault(case["shim"], []).append(i)
    for path, indices in by_shim.items():
        shim = load(path)
        items = [cases[i]["item"] for i in indices]
        for i, it in zip(indices, items):
            out["single"][i] = shim.compute_score(it["data_source"], it["solution_str"], it["ground_truth"], it.get("extra_info"), unused_kwarg=1)
        batch = shim.compute_score_batch(
            data_sources=[it["data_source"] for it in items],
            solution_strs=[it["solution_str"] for it in items],
            ground_truths=[it["ground_truth"] for it in items],
            extra_infos=[it.get("extra_info") for it in items],
        )
        for i, r in zip(indices, batch):
            out["batch"][i] = r

        async def score_all():
            return await asyncio.gather(
                *[
                    shim.compute_score_async(data_source=it["data_source"], solution_str=it["solution_str"], ground_truth=it["ground_truth"], extra_info=it.get("extra_info"))
                    for it in items
                ]
            )

        assert asyncio.iscoroutinefunction(shim.compute_score_async)
        for i, r in zip(indices, asyncio.run(score_all())):
            out["async"][i] = r
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
