"""Many LoRA adapters on one backbone at once: batched forward and scoring.

The adapters are stacked along a new leading axis M; ``torch.func.vmap`` runs the backbone with
each adapter's merged weights W + s·B·A through ``functional_call`` (``merged_forward``, the LoRA
family's functional form, which the build driver also trains through). With the same seeds, a
batched run follows the one-at-a-time peft run up to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

from paramgen.data.digits import DigitImages
from paramgen.families.lora.adapter import LoraSpec
from paramgen.families.lora.algebra import lora_modules

__all__ = ["batched_accuracy", "batched_logits", "merged_forward", "stack_adapters"]

Stacked = dict[str, torch.Tensor]


def stack_adapters(adapters: Sequence[Mapping[str, torch.Tensor]]) -> Stacked:
    """M adapters → one dict of [M, ...] tensors."""
    return {name: torch.stack([adapter[name] for adapter in adapters]) for name in adapters[0]}


def merged_forward(backbone: nn.Module, spec: LoraSpec) -> Callable:
    """f(adapter, x) → outputs, running ``backbone`` with W + s·B·A for each targeted module (the
    LoRA family's ``functional`` form: pure, so ``torch.func.vmap`` runs many adapters at once)."""
    base = {name: p.detach() for name, p in backbone.named_parameters()}
    base |= dict(backbone.named_buffers())

    def forward(adapter: Mapping[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        weights = dict(base)
        for module in lora_modules(adapter):
            a, b = adapter[f"{module}.lora_A.weight"], adapter[f"{module}.lora_B.weight"]
            rank = a.shape[0]
            base_weight = base[f"{module}.weight"]
            delta = b.reshape(b.shape[0], rank) @ a.reshape(rank, -1)
            weights[f"{module}.weight"] = base_weight + spec.scaling * delta.reshape(
                base_weight.shape
            )
        return functional_call(backbone, weights, (inputs,))

    return forward


def batched_logits(
    backbone: nn.Module, spec: LoraSpec, stacked: Stacked, inputs: torch.Tensor, shared_inputs: bool
) -> torch.Tensor:
    """[M, N, classes]: adapter m on ``inputs`` ([N, ...] if shared, else [M, N, ...])."""
    return vmap(merged_forward(backbone, spec), in_dims=(0, None if shared_inputs else 0))(
        stacked, inputs
    )


@torch.no_grad()
def batched_accuracy(
    backbone: nn.Module,
    spec: LoraSpec,
    stacked: Stacked,
    data: DigitImages | Sequence[DigitImages],
    chunk: int = 64,
) -> torch.Tensor:
    """[M] top-1 accuracy of each adapter, on shared ``data`` or one DigitImages per adapter."""
    shared = isinstance(data, DigitImages)
    images = data.images if shared else torch.stack([d.images for d in data])
    labels = data.labels if shared else torch.stack([d.labels for d in data])
    count = len(next(iter(stacked.values())))
    scores = []
    for start in range(0, count, chunk):
        part = {name: value[start : start + chunk] for name, value in stacked.items()}
        logits = batched_logits(
            backbone, spec, part, images if shared else images[start : start + chunk], shared
        )
        wanted = labels if shared else labels[start : start + chunk]
        scores.append((logits.argmax(-1) == wanted).float().mean(-1))
    return torch.cat(scores)
