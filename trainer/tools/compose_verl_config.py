"""Compose one of verl's own trainer configs with Hydra over command-line overrides, in strict mode.

Used by the tests to prove that the overrides toolloop generates are keys the pinned verl release
has: Hydra refuses an override of a key that is not in the config (unless it is prefixed with '+'),
exactly as `python -m verl.trainer.main_ppo <overrides>` would at start-up. verl itself is not
imported (its package needs torch); only its config folder, verl/trainer/config/, is read.

Usage: python compose_verl_config.py CONFIG_NAME [--select KEY ...] [--] OVERRIDE ...
Prints a JSON object: {"config": CONFIG_NAME, "config_dir": ..., "values": {KEY: resolved value}}
for every overridden key (and each --select KEY). Exits 2 with the reason on stderr when Hydra
refuses the composition.
Needs hydra-core and omegaconf (scripts/ensure-train-venv.sh installs them with verl --no-deps).
"""

import json
import sys
from importlib.util import find_spec
from pathlib import Path


def verl_config_dir() -> Path:
    spec = find_spec("verl")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        sys.exit("compose_verl_config: verl is not installed in this Python (run scripts/ensure-train-venv.sh)")
    return Path(list(spec.submodule_search_locations)[0]) / "trainer" / "config"


def parse_args(argv: list[str]) -> tuple[str, list[str], list[str]]:
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    name, rest = argv[0], argv[1:]
    select: list[str] = []
    overrides: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            overrides.extend(rest[i + 1 :])
            break
        if arg == "--select" and i + 1 < len(rest):
            select.append(rest[i + 1])
            i += 2
            continue
        overrides.append(arg)
        i += 1
    return name, select, overrides


def override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def main() -> None:
    name, select, overrides = parse_args(sys.argv[1:])
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    config_dir = verl_config_dir()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            cfg = compose(config_name=name, overrides=overrides)
    except Exception as err:  # Hydra's ConfigCompositionException, OverrideParseException, ...
        cause = f" ({err.__cause__})" if err.__cause__ else ""
        print(f"{type(err).__name__}: {err}{cause}", file=sys.stderr)
        sys.exit(2)
    values = {}
    for key in [override_key(o) for o in overrides] + select:
        node = OmegaConf.select(cfg, key, throw_on_missing=False)
        values[key] = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    print(json.dumps({"config": name, "config_dir": str(config_dir), "values": values}))


if __name__ == "__main__":
    main()
