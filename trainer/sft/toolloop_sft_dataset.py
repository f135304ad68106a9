"""verl's multi-turn SFT dataset, training only the turns toolloop marks as labels.

toolloop's sft.parquet has one row per training sample: a multi-turn sample is a dialogue cut at
the assistant turn it labels, with the dialogue's earlier turns before it. verl 0.9.1's
MultiTurnSFTDataset puts every assistant message of a row under the loss, so the earlier assistant
turns would be trained once per later cut of their dialogue, and a turn the vote or the judges
rejected would be trained though it is no label. Each sft.parquet message therefore carries
OpenAI's fine-tuning `weight` (0: context only, 1: train; null for non-assistant turns), as
sft.jsonl does, and this class zeroes the loss mask of every message with weight 0.

train.sft copies this file beside its job and names it in verl's overrides
(`data.custom_cls.path`, `data.custom_cls.name`). It subclasses verl's own dataset, so tokenisation,
the chat template and verl's per-message consistency check stay verl's.
"""

from __future__ import annotations

from typing import Any, Optional

from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset


def is_context_only(message: dict[str, Any]) -> bool:
    """An assistant message the row shows as context, not as something to learn (weight 0)."""
    return message.get("role") == "assistant" and message.get("weight") == 0


class LabelTurnsSFTDataset(MultiTurnSFTDataset):
    """MultiTurnSFTDataset whose loss skips assistant messages with weight 0."""

    # The signature of verl 0.9.1's method, which calls it with keyword arguments.
    def _process_single_message(
        self,
        index: int,
        message: dict[str, Any],
        full_message: list,
        tools: Optional[list[dict[str, Any]]] = None,
        enable_thinking: Optional[bool] = None,
    ):
        input_ids, loss_mask, attention_mask, inputs = super()._process_single_message(
            index=index, message=message, full_message=full_message, tools=tools, enable_thinking=enable_thinking
        )
        if is_context_only(message):
            loss_mask = loss_mask * 0
        return input_ids, loss_mask, attention_mask, inputs
