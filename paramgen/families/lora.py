"""LoRA adapters through peft: attach to a backbone, extract the adapter tensors, apply stored ones.

Tensor names are peft's file keys without ``base_model.model.``: ``<module>.lora_A.weight`` [r, in]
and ``<module>.lora_B.weight`` [out, r], so a zoo row maps 1:1 onto an adapter folder.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from torch import nn

from paramgen.errors import ParamgenError

__all__ = ["LoraSpec", "lora_identity", "attach_lora", "lora_tensors", "apply_lora"]

PEFT_KEY_PREFIX = "base_model.model."
# Config fields that change which tensors exist or what they mean; paths, dropout and the like do
# not make two adapters incompatible.
_IDENTITY_KEYS = (
    "peft_type",
    "r",
    "lora_alpha",
    "target_modules",
    "use_rslora",
    "use_dora",
    "fan_in_fan_out",
    "bias",
    "rank_pattern",
    "alpha_pattern",
    "modules_to_save",
    "layers_to_transform",
    "lora_bias",
    "target_parameters",
    "exclude_modules",
)


def lora_identity(config: Mapping) -> dict:
    """The JSON-plain subset of an adapter config that two compatible adapters share."""
    plain = json.loads(json.dumps(dict(config), default=lambda value: sorted(value)))
    identity = {key: plain.get(key) for key in _IDENTITY_KEYS}
    if isinstance(identity["target_modules"], list):
        identity["target_modules"] = sorted(identity["target_modules"])
    return identity


@dataclass(frozen=True)
class LoraSpec:
    """What an adapter is: its rank, alpha and the backbone modules it targets."""

    targets: tuple[str, ...]
    rank: int = 4
    alpha: float = 4.0

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ParamgenError(f"LoRA rank must be >= 1, got {self.rank}")
        if not self.targets:
            raise ParamgenError("LoRA needs at least one target module")

    def peft_config(self, random_init: bool = False) -> LoraConfig:
        """peft's config; ``random_init`` makes B non-zero so a fresh adapter is not a no-op."""
        return LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha,
            target_modules=list(self.targets),
            lora_dropout=0.0,
            bias="none",
            init_lora_weights=not random_init,
        )

    @property
    def scaling(self) -> float:
        """s = alpha / r: ΔW = s·B·A."""
        return self.alpha / self.rank

    @property
    def identity(self) -> dict:
        return lora_identity(self.peft_config().to_dict())


def attach_lora(backbone: nn.Module, spec: LoraSpec, random_init: bool = False) -> PeftModel:
    """A copy of ``backbone`` with a trainable adapter; the backbone itself is not modified."""
    names = [name for name, _ in backbone.named_modules() if name]
    # peft matches a target against the end of a module's dotted name.
    missing = [t for t in spec.targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        raise ParamgenError(
            f"LoRA targets {missing} are not modules of {type(backbone).__name__}; it has {names}"
        )
    return get_peft_model(copy.deepcopy(backbone), spec.peft_config(random_init))


def lora_tensors(model: PeftModel) -> dict[str, torch.Tensor]:
    """The adapter's tensors (detached copies) under zoo names."""
    return {
        key.removeprefix(PEFT_KEY_PREFIX): value.detach().clone()
        for key, value in get_peft_model_state_dict(model).items()
    }


def apply_lora(
    backbone: nn.Module, spec: LoraSpec, tensors: Mapping[str, torch.Tensor]
) -> PeftModel:
    """A working copy of ``backbone`` running the stored adapter ``tensors``."""
    model = attach_lora(backbone, spec)
    expected = set(lora_tensors(model))
    given = set(tensors)
    if given != expected:
        raise ParamgenError(
            "adapter tensors do not fit this backbone and spec: "
            f"missing {sorted(expected - given)}, "
            f"unexpected {sorted(given - expected)}"
        )
    result = set_peft_model_state_dict(
        model, {PEFT_KEY_PREFIX + key: value for key, value in tensors.items()}
    )
    if result.unexpected_keys:
        raise ParamgenError(f"peft did not use adapter tensors {result.unexpected_keys}")
    return model.eval()
