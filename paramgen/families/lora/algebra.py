"""Exact algebra on LoRA tensors: ΔW, canonical factors, and interpolation.

LoRA factors are not identifiable — (B·G, G⁻¹·A) gives the same ΔW = s·B·A for any invertible G —
so a generator trained on raw factors would learn an arbitrary gauge. The canonical form is the
SVD-balanced factorisation of ΔW: s·B = U·√S, A = √S·Vᵀ, with the sign of each component fixed
so that its largest-magnitude entry of U is positive. Equal ΔW then give equal stored tensors.

Shapes follow peft: Linear A [r, in], B [out, r]; Conv2d A [r, in, kh, kw], B [out, r, 1, 1],
where ΔW = B.reshape(out, r) @ A.reshape(r, in·kh·kw), reshaped to the conv weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from paramgen.errors import ParamgenError
from paramgen.families.lora.adapter import LoraSpec

__all__ = ["lora_modules", "delta_weights", "factorize", "canonicalize", "interpolate"]

Tensors = Mapping[str, torch.Tensor]


def lora_modules(tensors: Tensors) -> list[str]:
    """Module names (``conv1``, ``blocks.0.fc``…) that carry an A/B pair, sorted."""
    return sorted({name.split(".lora_")[0] for name in tensors if ".lora_" in name})


def _pair(tensors: Tensors, module: str) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        return tensors[f"{module}.lora_A.weight"], tensors[f"{module}.lora_B.weight"]
    except KeyError as error:
        raise ParamgenError(f"LoRA tensors lack {error.args[0]!r}") from None


def delta_weights(tensors: Tensors, spec: LoraSpec) -> dict[str, torch.Tensor]:
    """ΔW per module as float64 matrices [out, fan_in] (scaling included)."""
    deltas = {}
    for module in lora_modules(tensors):
        a, b = _pair(tensors, module)
        rank = a.shape[0]
        deltas[module] = spec.scaling * (
            b.double().reshape(b.shape[0], rank) @ a.double().reshape(rank, -1)
        )
    return deltas


def factorize(
    delta: torch.Tensor, rank: int, scaling: float, a_shape: Sequence[int], b_shape: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Canonical (A, B) of rank ``rank`` with ``scaling·B·A ≈ delta`` (exact if rank(delta) ≤ rank).

    ``a_shape`` / ``b_shape`` are the factor shapes with the rank axis set to ``rank``.
    """
    u, s, vh = torch.linalg.svd(delta.double(), full_matrices=False)
    keep = min(rank, s.numel())
    u, s, vh = u[:, :keep], s[:keep], vh[:keep]
    peak = u.abs().argmax(dim=0)
    signs = torch.sign(u[peak, torch.arange(keep)])
    signs[signs == 0] = 1.0
    u, vh = u * signs, vh * signs[:, None]
    root = torch.sqrt(s / scaling)
    b = torch.zeros(delta.shape[0], rank, dtype=torch.float64)
    a = torch.zeros(rank, delta.shape[1], dtype=torch.float64)
    b[:, :keep] = u * root
    a[:keep] = root[:, None] * vh
    return a.reshape(*a_shape).float(), b.reshape(*b_shape).float()


def _refactor(
    deltas: Mapping[str, torch.Tensor], like: Tensors, spec: LoraSpec
) -> dict[str, torch.Tensor]:
    out = {}
    for module, delta in deltas.items():
        a, b = _pair(like, module)
        a_shape = (spec.rank, *a.shape[1:])
        b_shape = (b.shape[0], spec.rank, *b.shape[2:])
        out[f"{module}.lora_A.weight"], out[f"{module}.lora_B.weight"] = factorize(
            delta, spec.rank, spec.scaling, a_shape, b_shape
        )
    return out


def canonicalize(tensors: Tensors, spec: LoraSpec) -> dict[str, torch.Tensor]:
    """The canonical factors of the same ΔW, in the same shapes and key order."""
    canonical = _refactor(delta_weights(tensors, spec), tensors, spec)
    return {name: canonical[name] for name in tensors}


def interpolate(
    adapters: Sequence[Tensors], weights: Sequence[float], spec: LoraSpec
) -> tuple[dict[str, torch.Tensor], LoraSpec]:
    """The adapter whose ΔW is exactly Σ wᵢ·ΔWᵢ, in canonical form.

    Its rank is the sum of the inputs' ranks (a sum of rank-r matrices can need that much), with
    alpha equal to that rank (scaling 1). Not peft's ``linear`` combination, which mixes A and B
    separately and misses the target ΔW by ~99%.
    """
    if len(adapters) != len(weights) or not adapters:
        raise ParamgenError(
            f"interpolate needs one weight per adapter, got {len(adapters)} and {len(weights)}"
        )
    per_adapter = [delta_weights(adapter, spec) for adapter in adapters]
    modules = set(per_adapter[0])
    if any(set(d) != modules for d in per_adapter):
        raise ParamgenError("adapters to interpolate must target the same modules")
    mixed = {m: sum(w * d[m] for w, d in zip(weights, per_adapter, strict=True)) for m in modules}
    total_rank = spec.rank * len(adapters)
    out_spec = LoraSpec(targets=spec.targets, rank=total_rank, alpha=float(total_rank))
    refactored = _refactor(mixed, adapters[0], out_spec)
    return {name: refactored[name] for name in adapters[0]}, out_spec
