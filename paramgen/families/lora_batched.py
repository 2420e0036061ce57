"""Many LoRA adapters on one backbone at once: batched forward, scoring and training.

The adapters are stacked along a new leading axis M; ``torch.func.vmap`` runs the backbone with
each adapter's merged weights W + s·B·A through ``functional_call``. Training updates the stacked
factors with one Adam; Adam is elementwise, so this is exactly M independent Adams. With the same
seeds, a batched run follows the one-at-a-time peft run up to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from paramgen.data.digits import DigitImages
from paramgen.families.lora import LoraSpec, attach_lora, lora_tensors
from paramgen.families.lora_algebra import lora_modules

__all__ = [
    "stack_adapters",
    "batched_logits",
    "batched_accuracy",
    "train_lora_batched",
]

Stacked = dict[str, torch.Tensor]


def stack_adapters(adapters: Sequence[Mapping[str, torch.Tensor]]) -> Stacked:
    """M adapters → one dict of [M, ...] tensors."""
    return {name: torch.stack([adapter[name] for adapter in adapters]) for name in adapters[0]}


def _merged_forward(backbone: nn.Module, spec: LoraSpec) -> Callable:
    """f(adapter, x) → logits, running ``backbone`` with W + s·B·A for each targeted module."""
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
    return vmap(_merged_forward(backbone, spec), in_dims=(0, None if shared_inputs else 0))(
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


def train_lora_batched(
    backbone: nn.Module,
    spec: LoraSpec,
    datasets: Sequence[DigitImages],
    seeds: Sequence[int],
    *,
    steps: int,
    lr: float,
    batch_size: int = 64,
    initial: Sequence[Mapping[str, torch.Tensor] | None] | None = None,
    on_step: Callable[[int, Stacked], None] | None = None,
) -> Stacked:
    """Train one adapter per (dataset, seed) together; returns the stacked final factors.

    Adapter m starts from ``initial[m]`` (a warm start) or, where that is None, from peft's
    initialisation under ``torch.manual_seed(seeds[m])``; it draws its minibatches from a
    generator seeded with ``seeds[m]`` — as ``train_classifier`` does.
    """
    starts = []
    for m, seed in enumerate(seeds):
        warm = initial[m] if initial is not None else None
        if warm is None:
            torch.manual_seed(seed)
            warm = lora_tensors(attach_lora(backbone, spec))
        starts.append({name: value.detach().clone() for name, value in warm.items()})
    stacked = {name: value.requires_grad_() for name, value in stack_adapters(starts).items()}
    optimiser = torch.optim.Adam(stacked.values(), lr=lr)
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    images = torch.stack([d.images for d in datasets])  # [M, N, C, H, W]
    labels = torch.stack([d.labels for d in datasets])  # [M, N]
    rows = torch.arange(len(datasets))[:, None]
    forward = vmap(_merged_forward(backbone.eval(), spec))
    for step in range(1, steps + 1):
        batch = torch.stack(
            [torch.randint(images.shape[1], (batch_size,), generator=g) for g in generators]
        )
        logits = forward(stacked, images[rows, batch])  # [M, B, classes]
        losses = F.cross_entropy(
            logits.flatten(0, 1), labels[rows, batch].flatten(), reduction="none"
        )
        # Summing the per-adapter means gives each adapter the gradient of its own mean loss.
        loss = losses.view(len(datasets), batch_size).mean(dim=1).sum()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if on_step is not None:
            on_step(step, stacked)
    return {name: value.detach() for name, value in stacked.items()}
