"""Families of weights: how each attaches to a backbone, is extracted, and is applied."""

from paramgen.families.lora import LoraSpec, apply_lora, attach_lora, lora_identity, lora_tensors

__all__ = ["LoraSpec", "apply_lora", "attach_lora", "lora_identity", "lora_tensors"]
