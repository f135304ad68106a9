"""Scores decoded BFCL outputs with the official bfcl_eval AST checker (test/bench helper).

stdin: JSON lines {"id", "category", "result"} where result is BFCL's decoded form
       ([{"func": {"param": value}}]; java/javascript values are source text).
argv[1]: BFCL data dir (holding data/ and possible_answer/).
argv[2] (optional): repeat the whole check this many times (benchmark); verdicts come from the first pass.
stdout: one line per input, "<id>\t<valid|invalid|crash>\t<error_type or exception>".
stderr (last line): JSON {"entries": n, "check_seconds": t, "runs": [...], "load_seconds": t,
       "import_seconds": t, "python": version}; load_seconds is the median time json.loads takes
       over the input lines (the decoding the benchmark leaves out of both sides' figures).

The checker is the package's own ast_checker. Only bfcl_eval.constants.model_config is replaced
by a stub before import: in the checker it serves solely to look up the model's
underscore_to_dot flag (convert_func_name), and importing the real one loads every model
handler's SDK. Names are compared as given (underscore_to_dot False).
"""
import json
import sys
import time
import types

t_import = time.perf_counter()


class _Cfg:
    underscore_to_dot = False


class _AnyModel(dict):
    def __missing__(self, key):
        return _Cfg()


stub = types.ModuleType("bfcl_eval.constants.model_config")
stub.MODEL_CONFIG_MAPPING = _AnyModel()
sys.modules["bfcl_eval.constants.model_config"] = stub

from bfcl_eval.constants.enums import Language  # noqa: E402
from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker  # noqa: E402

import_seconds = time.perf_counter() - t_import


def is_function_calling_format_output(decoded):
    # Same logic as bfcl_eval.utils.is_function_calling_format_output (utils.py pulls heavy imports).
    if type(decoded) != list:
        return False
    for item in decoded:
        if type(item) != dict or len(item) != 1 or type(list(item.values())[0]) != dict:
            return False
    return True


def is_empty_output(decoded):
    if not is_function_calling_format_output(decoded):
        return True
    if len(decoded) == 0:
        return True
    if len(decoded) == 1 and len(decoded[0]) == 0:
        return True
    return False


def load(data_dir, category, cache):
    if category in cache:
        return cache[category]
    prompts = {}
    with open(f"{data_dir}/data/BFCL_v3_{category}.json") as f:
        for line in f:
            if line.strip():
                e = json.loads(line)
                prompts[e["id"]] = e["function"]
    answers = {}
    if "relevance" not in category:
        with open(f"{data_dir}/possible_answer/BFCL_v3_{category}.json") as f:
            for line in f:
                if line.strip():
                    e = json.loads(line)
                    answers[e["id"]] = e["ground_truth"]
    cache[category] = (prompts, answers)
    return cache[category]


def language_of(category):
    if "javascript" in category:
        return Language.JAVASCRIPT
    if "java" in category:
        return Language.JAVA
    return Language.PYTHON


def main():
    data_dir = sys.argv[1]
    cache = {}
    raw = [line for line in sys.stdin if line.strip()]
    items = [json.loads(line) for line in raw]
    for it in items:
        load(data_dir, it["category"], cache)
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    runs = []
    loads = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        for line in raw:
            json.loads(line)
        loads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        lines = check_all(items, cache)
        runs.append(time.perf_counter() - t0)
        if out is None:
            out = lines
    runs_sorted = sorted(runs)
    check_seconds = runs_sorted[len(runs_sorted) // 2]
    lines = [f"{it['id']}\t{verdict}\t{detail}" for it, (verdict, detail) in zip(items, out)]
    sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
    load_seconds = sorted(loads)[len(loads) // 2]
    stats = {"entries": len(items), "check_seconds": check_seconds, "runs": runs, "load_seconds": load_seconds,
             "import_seconds": import_seconds, "python": sys.version.split()[0], "executable": sys.executable}
    sys.stderr.write(json.dumps(stats) + "\n")


def check_all(items, cache):
    out = []
    for it in items:
        cat = it["category"]
        prompts, answers = cache[cat]
        result = it["result"]
        if "relevance" in cat:
            has_call = not is_empty_output(result)
            ok = (not has_call) if "irrelevance" in cat else has_call
            err = "" if ok else ("irrelevance_error:decoder_success" if "irrelevance" in cat else "relevance_error:decoder_failed")
            out.append(("valid" if ok else "invalid", err))
            continue
        if not is_function_calling_format_output(result):
            out.append(("invalid", "ast_decoder:decoder_wrong_output_format"))
            continue
        try:
            r = ast_checker(prompts[it["id"]], result, answers[it["id"]], language_of(cat), cat, "toolloop")
            out.append(("valid", "") if r["valid"] else ("invalid", r.get("error_type", "")))
        except Exception as e:  # the official runner would abort; report it per entry instead
            out.append(("crash", type(e).__name__))
    return out


if __name__ == "__main__":
    main()
