"""The LoRA family: peft adapters on any module's Linear / Conv2d layers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from paramgen.families.lora.adapter import (
    LoraSpec,
    attach_lora,
    load_lora_tensors,
    lora_tensors,
)
from paramgen.families.lora.algebra import interpolate
from paramgen.families.lora.batched import merged_forward
from paramgen.families.protocol import Family, Functional, Tensors

__all__ = ["LoraFamily"]


class LoraFamily(Family):
    """Rows are an adapter's A and B factors under peft's names without ``base_model.model.``;
    the group's family config is peft's identity config (``LoraSpec.identity``), so a row maps
    1:1 onto an adapter folder that ``PeftModel.from_pretrained`` loads."""

    name = "lora"
    config_type = LoraSpec
    export_formats = ("peft", "safetensors")

    def config_to_dict(self, config: LoraSpec) -> dict:
        return config.identity

    def config_from_dict(self, values: Mapping) -> LoraSpec:
        return LoraSpec.from_identity(values)

    def attach(
        self, base: nn.Module, config: LoraSpec, start: Mapping[str, torch.Tensor] | None = None
    ) -> nn.Module:
        model = attach_lora(base, config)
        return model if start is None else load_lora_tensors(model, start)

    def extract(self, model: nn.Module, config: LoraSpec) -> Tensors:
        return lora_tensors(model)

    def functional(self, base: nn.Module, config: LoraSpec) -> Functional:
        return merged_forward(base, config)

    def interpolate(
        self, config: LoraSpec, rows: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]
    ) -> tuple[Tensors, LoraSpec]:
        """Exact ΔW mixing (rank Σr), not factor mixing: peft's ``linear`` misses ΔW by ~99%."""
        return interpolate(list(rows), list(weights), config)
