"""The stand-in trainer's SIMULATED policy: it renders a sample's label calls as Hermes `<tool_call>`
text and corrupts them with a probability that falls as the "policy" sees more samples of a tool.

Nothing here is a model. The corruption kinds are the errors a real policy makes early in GRPO
(wrong argument value, missing call, wrong tool, broken JSON, a call where none was wanted), so the
real reward function scores a believable spread, and the spread narrows as steps go on.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field

# Corruption probability of an untrained tool at the first step, and how many samples halve it.
BASE_CORRUPTION = 0.6
SAMPLES_TO_HALVE = 16
# The profile never claims a tool is perfect.
MIN_SCALE = 0.05
IRRELEVANCE_KEY = "__irrelevance__"

CORRUPTIONS = ("wrong_value", "missing_call", "wrong_tool", "broken_json")


def seeded_rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x00".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def render_call(name: str, arguments: dict) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False) + "\n</tool_call>"


def _tool_names(extra_info: dict | None) -> list[str]:
    try:
        tools = json.loads((extra_info or {}).get("tools") or "[]")
        return [t["function"]["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    except (ValueError, KeyError, TypeError):
        return []


def label_calls(ground_truth: str) -> list[dict]:
    parsed = json.loads(ground_truth)
    calls = parsed.get("calls") if isinstance(parsed, dict) else None
    if not isinstance(calls, list):
        raise ValueError("ground_truth has no 'calls' list")
    return [{"name": str(c.get("name")), "arguments": c.get("arguments") or {}} for c in calls]


def _wrong_value(rng: random.Random, arguments: dict) -> dict | None:
    if not arguments:
        return None
    out = dict(arguments)
    key = rng.choice(sorted(out))
    v = out[key]
    if isinstance(v, bool):
        out[key] = not v
    elif isinstance(v, (int, float)):
        out[key] = v + rng.choice([1, -1, 10])
    elif isinstance(v, str):
        out[key] = (v + " (approx)") if v else "unknown"
    else:
        out[key] = "unknown"
    return out


@dataclass
class Rollout:
    text: str
    corrupted: str | None  # the corruption kind, None for a faithful rendering
    tools: list[str]  # the label's tools (what the sample teaches)


@dataclass
class SimulatedPolicy:
    """Corruption scale per tool: starts from the base model's profile (1.0 for a fresh base model)
    and falls with the samples of that tool seen in training."""

    seed: int
    start_scale: dict[str, float] = field(default_factory=dict)
    default_start_scale: float = 1.0
    seen: dict[str, int] = field(default_factory=dict)

    def learned_factor(self, tool: str) -> float:
        return SAMPLES_TO_HALVE / (SAMPLES_TO_HALVE + self.seen.get(tool, 0))

    def corruption_probability(self, tool: str) -> float:
        start = self.start_scale.get(tool, self.default_start_scale)
        return BASE_CORRUPTION * start * self.learned_factor(tool)

    def rollout(self, step: int, sample_id: str, k: int, ground_truth: str, extra_info: dict | None) -> Rollout:
        rng = seeded_rng("standin-rollout", self.seed, step, sample_id, k)
        calls = label_calls(ground_truth)
        names = [c["name"] for c in calls]
        offered = _tool_names(extra_info)
        if not calls:
            # Irrelevance: the right answer is text; the early policy calls an offered tool anyway.
            if offered and rng.random() < self.corruption_probability(IRRELEVANCE_KEY):
                return Rollout("Let me look that up.\n" + render_call(rng.choice(offered), {}), "call_on_irrelevance", [])
            return Rollout("None of the tools I have can help with that request, so I will answer directly.", None, [])

        out_calls: list[dict] = []
        corrupted: str | None = None
        for call in calls:
            if corrupted is None and rng.random() < self.corruption_probability(call["name"]):
                kind = rng.choice(CORRUPTIONS)
                if kind == "wrong_value":
                    args = _wrong_value(rng, call["arguments"])
                    if args is not None:
                        out_calls.append({"name": call["name"], "arguments": args})
                        corrupted = kind
                        continue
                    kind = "wrong_tool"
                if kind == "missing_call":
                    corrupted = kind
                    continue
                if kind == "wrong_tool":
                    others = [t for t in offered if t != call["name"]]
                    out_calls.append({"name": rng.choice(others) if others else call["name"] + "_v2", "arguments": call["arguments"]})
                    corrupted = kind
                    continue
                corrupted = "broken_json"
            out_calls.append(call)

        text = "I will call " + ", ".join(dict.fromkeys(names)) + " for this.\n" + "\n".join(render_call(c["name"], c["arguments"]) for c in out_calls)
        if corrupted == "broken_json":
            # A truncated generation: the last block is cut mid-JSON.
            cut = text.rfind('"arguments"')
            text = text[: cut + 14] if cut >= 0 else text[: len(text) // 2]
        if not out_calls:
            text = "I am not sure any tool is needed here."
        return Rollout(text, corrupted, names)

    def observe(self, tools: list[str], n_samples: int = 1) -> None:
        for t in set(tools) or {IRRELEVANCE_KEY}:
            self.seen[t] = self.seen.get(t, 0) + n_samples
