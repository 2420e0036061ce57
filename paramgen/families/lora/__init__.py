"""The LoRA family: peft adapters, their exact algebra, and batched forward passes."""

from paramgen.families.lora.adapter import (
    PEFT_KEY_PREFIX,
    LoraSpec,
    apply_lora,
    attach_lora,
    load_lora_tensors,
    lora_identity,
    lora_tensors,
)
from paramgen.families.lora.family import LoraFamily

__all__ = [
    "PEFT_KEY_PREFIX",
    "LoraFamily",
    "LoraSpec",
    "apply_lora",
    "attach_lora",
    "load_lora_tensors",
    "lora_identity",
    "lora_tensors",
]
