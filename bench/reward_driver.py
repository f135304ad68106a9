"""Python side of bench/reward.ts (standard library only).

argv: shim path, samples JSON path, batch size, passes.
Times, over the same samples, (1) the generated shim's batch form end to end (serialise, HTTP to the
reward service, score the gated composite reward there, parse the results) and (2) an in-process
Python function equivalent to LoopTool's 0/1 reward (an exact multiset compare of the parsed calls).
Prints one JSON object.
"""

import importlib.util
import json
import re
import sys
import time

_TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.S)


def looptool_reward(solution_str, ground_truth):
    """1.0 iff the response's tool calls equal the ground truth's as a multiset of (name, arguments)."""
    try:
        predicted = []
        for block in _TOOL_CALL.findall(solution_str):
            call = json.loads(block)
            predicted.append((call["name"], json.dumps(call.get("arguments", {}), sort_keys=True)))
        expected = [(c["name"], json.dumps(c.get("arguments", {}), sort_keys=True)) for c in json.loads(ground_truth)["calls"]]
    except Exception:
        return 0.0
    return 1.0 if sorted(predicted) == sorted(expected) else 0.0


def main():
    shim_path, samples_path, batch_size, passes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    t0 = time.perf_counter()
    spec = importlib.util.spec_from_file_location("toolloop_reward_bench", shim_path)
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    with open(samples_path) as f:
        samples = json.load(f)
    load_s = time.perf_counter() - t0
    n = len(samples)
    sources = [s["data_source"] for s in samples]
    solutions = [s["solution_str"] for s in samples]
    truths = [s["ground_truth"] for s in samples]
    extras = [s["extra_info"] for s in samples]
    batches = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]

    def shim_pass():
        out = []
        t = time.perf_counter()
        for a, b in batches:
            out.extend(shim.compute_score_batch(data_sources=sources[a:b], solution_strs=solutions[a:b], ground_truths=truths[a:b], extra_infos=extras[a:b]))
        return time.perf_counter() - t, out

    def looptool_pass():
        t = time.perf_counter()
        out = [looptool_reward(solutions[i], truths[i]) for i in range(n)]
        return time.perf_counter() - t, out

    shim_pass()  # warm-up: connection, config registration, the service's JIT
    shim_runs, loop_runs = [], []
    shim_scores = loop_scores = None
    # Interleaved, so both sides see the same machine load.
    for _ in range(passes):
        s, shim_scores = shim_pass()
        l, loop_scores = looptool_pass()
        shim_runs.append(s)
        loop_runs.append(l)
    correct = sum(1 for r in shim_scores if r["execution_correct"])
    agree = sum(1 for r, l in zip(shim_scores, loop_scores) if r["execution_correct"] == (l == 1.0))
    print(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "samples": n,
                "batches": len(batches),
                "shim_runs_s": shim_runs,
                "looptool_runs_s": loop_runs,
                "load_s": load_s,
                "execution_correct": correct,
                "looptool_ones": sum(loop_scores),
                "verdict_agreement": agree / n,
                "mean_reward": sum(r["score"] for r in shim_scores) / n,
                "failed_results": sum(1 for r in shim_scores if r["reason"].startswith("reward service")),
            }
        )
    )


if __name__ == "__main__":
    main()
