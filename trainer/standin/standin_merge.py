#!/usr/bin/env python3
"""toolloop STAND-IN MERGE: takes `python -m verl.model_merger`'s arguments and writes a Hugging Face
style folder from a stand-in checkpoint (SIMULATED: there are no weights to merge).

    standin_merge.py merge --backend fsdp --local_dir <ckpt>/global_step_N/actor --target_dir OUT

OUT gets config.json (saying simulated), the placeholder model file and toolloop_profile.json (the
profile the LLM simulator reads with --checkpoint-profile). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the installation (it may be read-only on a cluster)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from standin_checkpoint import MODEL_FILE, NOTE, PROFILE_FILE  # noqa: E402

TAG = "[toolloop stand-in merge]"
MERGED_MODEL_FILE = "standin_model.json"


def log(message: str) -> None:
    print(f"{TAG} {message}", flush=True)


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="standin_merge.py", description="Stand-in for verl.model_merger (SIMULATED)")
    sub = parser.add_subparsers(dest="operation", required=True)
    merge = sub.add_parser("merge")
    merge.add_argument("--backend", required=True, choices=["fsdp", "megatron"])
    merge.add_argument("--local_dir", required=True)
    merge.add_argument("--target_dir", required=True)
    merge.add_argument("--hf_model_path", default=None)
    return parser.parse_known_args(argv)


def merge(local_dir: str, target_dir: str, backend: str) -> None:
    model_file = os.path.join(local_dir, MODEL_FILE)
    profile_file = os.path.join(local_dir, PROFILE_FILE)
    for needed, what in ((model_file, "the placeholder model file"), (profile_file, "the stand-in profile")):
        if not os.path.isfile(needed):
            raise FileNotFoundError(f"--local_dir {local_dir!r} is not a stand-in checkpoint: {what} {needed!r} is missing")
    with open(model_file, encoding="utf-8") as f:
        placeholder = json.load(f)
    with open(profile_file, encoding="utf-8") as f:
        profile = json.load(f)
    if not isinstance(profile, dict) or profile.get("simulated") is not True:
        raise ValueError(f"{profile_file}: not a stand-in profile (field 'simulated' must be true)")
    m = re.search(r"global_step_(\d+)", os.path.abspath(local_dir))
    step = int(m.group(1)) if m else profile.get("steps")

    os.makedirs(target_dir, exist_ok=True)
    config = {
        "architectures": ["ToolloopStandinSimulated"],
        "model_type": "toolloop-standin",
        "simulated": True,
        "note": NOTE,
        "merged_from": os.path.abspath(local_dir),
        "merge_backend": backend,
        "step": step,
        "base_model": placeholder.get("base_model"),
    }
    with open(os.path.join(target_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    shutil.copyfile(model_file, os.path.join(target_dir, MERGED_MODEL_FILE))
    # The profile last, so a folder with a profile is a complete one.
    tmp = os.path.join(target_dir, f".{PROFILE_FILE}.tmp")
    shutil.copyfile(profile_file, tmp)
    os.replace(tmp, os.path.join(target_dir, PROFILE_FILE))


def main(argv: list[str]) -> int:
    log("SIMULATED: this is the toolloop stand-in for verl.model_merger; there are no weights to merge")
    args, unknown = parse_args(argv)
    for extra in unknown:
        log(f"ignoring argument {extra!r} (verl.model_merger would use it; the stand-in does not)")
    try:
        merge(args.local_dir, args.target_dir, args.backend)
    except (OSError, ValueError) as err:
        print(f"{TAG} error: {err}", file=sys.stderr, flush=True)
        return 1
    log(f"Saved SIMULATED model to {args.target_dir} (config.json, {MERGED_MODEL_FILE}, {PROFILE_FILE})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
