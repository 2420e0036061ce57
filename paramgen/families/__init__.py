"""Families of weights: how each attaches to a backbone, is extracted, and is applied."""

from paramgen.families.lora import LoraSpec, apply_lora, attach_lora, lora_identity, lora_tensors
from paramgen.families.mac import MacCoefficientNet, MacConvNet, MacMLP

__all__ = [
    "LoraSpec",
    "MacCoefficientNet",
    "MacConvNet",
    "MacMLP",
    "apply_lora",
    "attach_lora",
    "lora_identity",
    "lora_tensors",
]
