"""Hydra-style `key=value` overrides as verl's main_ppo takes them (stand-in trainer, SIMULATED).

Only the keys the stand-in uses are read; every other key is accepted and reported, so a command line
built for verl runs unchanged against the stand-in. Values follow Hydra's basic grammar: null, true/false,
ints, floats, quoted strings and `[a,b]` lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Keys the stand-in reads, with verl's defaults where verl has one.
KNOWN_DEFAULTS: dict[str, object] = {
    "data.train_files": None,
    "data.val_files": None,
    "data.train_batch_size": 8,
    "data.seed": 1,
    "actor_rollout_ref.rollout.n": 1,
    "actor_rollout_ref.model.path": None,
    "model.path": None,  # verl's SFT trainer
    "actor_rollout_ref.actor.optim.lr": 1e-6,
    "trainer.default_local_dir": None,
    "trainer.save_freq": -1,
    "trainer.max_actor_ckpt_to_keep": None,  # verl's main_ppo: saved steps kept (None: all)
    "trainer.max_ckpt_to_keep": None,  # verl's SFT trainer: the same
    "trainer.test_freq": -1,
    "trainer.total_epochs": 1,
    "trainer.total_training_steps": None,
    "trainer.resume_mode": "auto",
    "trainer.project_name": "verl_examples",
    "trainer.experiment_name": "standin",
    "data.custom_cls.path": None,  # verl's SFT trainer: the dataset class file (toolloop's label-turn dataset)
    "data.custom_cls.name": None,
    "reward.custom_reward_function.path": None,
    "reward.custom_reward_function.name": "compute_score",
}

# verl's legacy spelling of the reward function keys (before they moved under `reward.`).
LEGACY_ALIASES = {
    "custom_reward_function.path": "reward.custom_reward_function.path",
    "custom_reward_function.name": "reward.custom_reward_function.name",
}


class OverrideError(ValueError):
    pass


@dataclass
class Overrides:
    values: dict[str, object]
    unknown: dict[str, object] = field(default_factory=dict)

    def get(self, key: str) -> object:
        return self.values.get(key, KNOWN_DEFAULTS.get(key))

    def require_str(self, key: str) -> str:
        v = self.get(key)
        if v is None or v == "":
            raise OverrideError(f"{key} is required (got {v!r})")
        return str(v)

    def int_value(self, key: str, minimum: int | None = None) -> int:
        v = self.get(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise OverrideError(f"{key} must be an integer (got {v!r})")
        if minimum is not None and v < minimum:
            raise OverrideError(f"{key} must be >= {minimum} (got {v})")
        return v

    def optional_int(self, key: str, minimum: int | None = None) -> int | None:
        return None if self.get(key) is None else self.int_value(key, minimum)

    def float_value(self, key: str) -> float:
        v = self.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise OverrideError(f"{key} must be a number (got {v!r})")
        return float(v)

    def paths(self, key: str) -> list[str]:
        v = self.get(key)
        if v is None or v == "":
            raise OverrideError(f"{key} is required")
        items = v if isinstance(v, list) else [v]
        return [str(x) for x in items]


def _split_list(body: str) -> list[str]:
    parts, depth, quote, cur = [], 0, "", ""
    for ch in body:
        if quote:
            cur += ch
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            cur += ch
        elif ch in "[{":
            depth += 1
            cur += ch
        elif ch in "]}":
            depth -= 1
            cur += ch
        elif ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def parse_value(text: str) -> object:
    s = text.strip()
    if s == "" or s.lower() in ("null", "~", "none"):
        return None
    if s.lower() == "true":
        return True
    if s.lower() == "false":
        return False
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    if s.startswith("[") and s.endswith("]"):
        return [parse_value(p) for p in _split_list(s[1:-1])]
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


def parse_overrides(argv: list[str]) -> Overrides:
    values: dict[str, object] = {}
    unknown: dict[str, object] = {}
    for arg in argv:
        if "=" not in arg:
            raise OverrideError(f"expected a Hydra override key=value, got {arg!r}")
        key, _, raw = arg.partition("=")
        key = key.lstrip("+~").strip()  # `+key=`, `++key=` add or force a key in Hydra
        if not key:
            raise OverrideError(f"empty key in override {arg!r}")
        key = LEGACY_ALIASES.get(key, key)
        value = parse_value(raw)
        if key in KNOWN_DEFAULTS:
            values[key] = value
        else:
            unknown[key] = value
    return Overrides(values, unknown)
