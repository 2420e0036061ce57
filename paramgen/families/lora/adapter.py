"""LoRA adapters through peft: attach to a backbone, extract the adapter tensors, apply stored ones.

Tensor names are peft's file keys without ``base_model.model.``: ``<module>.lora_A.weight`` [r, in]
and ``<module>.lora_B.weight`` [out, r], so a zoo row maps 1:1 onto an adapter folder.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from paramgen.errors import ParamgenError
from paramgen.families.protocol import check_tensors

if TYPE_CHECKING:  # peft (with transformers) takes seconds to import: only where it is used
    from peft import LoraConfig, PeftModel

__all__ = [
    "PEFT_KEY_PREFIX",
    "LoraSpec",
    "apply_lora",
    "attach_lora",
    "load_lora_tensors",
    "lora_identity",
    "lora_tensors",
]

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


# Identity fields whose non-default values change what an adapter computes in ways LoraSpec (and
# the batched merged-weight forward) does not model: such adapters are refused, not run wrongly.
_UNSUPPORTED = {
    "use_rslora": False,
    "use_dora": False,
    "fan_in_fan_out": False,
    "bias": "none",
    "rank_pattern": {},
    "alpha_pattern": {},
    "modules_to_save": None,
    "layers_to_transform": None,
    "lora_bias": False,
    "target_parameters": None,
    "exclude_modules": None,
}


@dataclass(frozen=True)
class LoraSpec:
    """What an adapter is: its rank, alpha and the backbone modules it targets."""

    targets: tuple[str, ...] = field(
        metadata={"help": "Modules to adapt (peft target_modules: names or name suffixes)."}
    )
    rank: int = field(default=4, metadata={"help": "LoRA rank r."})
    alpha: float = field(default=4.0, metadata={"help": "LoRA alpha (ΔW = alpha/r · B·A)."})

    @classmethod
    def from_identity(cls, identity: Mapping) -> LoraSpec:
        """The spec of a stored identity config (``lora_identity``), refusing features it cannot
        represent (DoRA, rsLoRA, rank patterns, …) with the field's name."""
        for key, default in _UNSUPPORTED.items():
            value = identity.get(key, default)
            if value == default or value is None or value is False or value in ({}, []):
                continue
            raise ParamgenError(
                f"adapter config has {key}={value!r}; paramgen's LoRA family supports plain "
                f"LoRA only ({key}={default!r}); retrain the adapters without it"
            )
        targets = identity.get("target_modules")
        if not isinstance(targets, list) or not targets:
            raise ParamgenError(
                f"adapter config target_modules must be a list of module names, got {targets!r}"
            )
        return cls(tuple(targets), int(identity["r"]), float(identity["lora_alpha"]))

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ParamgenError(f"LoRA rank must be >= 1, got {self.rank}")
        if not self.targets:
            raise ParamgenError("LoRA needs at least one target module")

    def peft_config(self, random_init: bool = False) -> LoraConfig:
        """peft's config; ``random_init`` makes B non-zero so a fresh adapter is not a no-op."""
        from peft import LoraConfig

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
        """The peft identity config (``lora_identity``) stored with a LoRA group."""
        return lora_identity(self.peft_config().to_dict())


def attach_lora(backbone: nn.Module, spec: LoraSpec, random_init: bool = False) -> PeftModel:
    """A copy of ``backbone`` with a trainable adapter; the backbone itself is not modified."""
    from peft import get_peft_model

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
    from peft.utils import get_peft_model_state_dict

    return {
        key.removeprefix(PEFT_KEY_PREFIX): value.detach().clone()
        for key, value in get_peft_model_state_dict(model).items()
    }


def load_lora_tensors(model: PeftModel, tensors: Mapping[str, torch.Tensor]) -> PeftModel:
    """Put stored adapter ``tensors`` into ``model`` (made by ``attach_lora``), checked by name."""
    from peft.utils import set_peft_model_state_dict

    check_tensors(tensors, lora_tensors(model), "adapter tensors for this backbone and spec")
    result = set_peft_model_state_dict(
        model, {PEFT_KEY_PREFIX + key: value for key, value in tensors.items()}
    )
    if result.unexpected_keys:
        raise ParamgenError(f"peft did not use adapter tensors {result.unexpected_keys}")
    return model


def apply_lora(
    backbone: nn.Module, spec: LoraSpec, tensors: Mapping[str, torch.Tensor]
) -> PeftModel:
    """A working copy of ``backbone`` running the stored adapter ``tensors``."""
    return load_lora_tensors(attach_lora(backbone, spec), tensors).eval()
