"""The γ-space sampler of MAC paths (Lee et al., ICML 2025)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from paramgen.errors import ParamgenError
from paramgen.paths import MacPath
from paramgen.solvers.common import Model, checked, intervals, times

__all__ = ["gamma_euler"]


@checked
def gamma_euler(
    path: MacPath,
    model: Model,
    noise: Tensor,
    *,
    steps: int,
    diffusion: float = 0.0,
    generator: torch.Generator | None = None,
    **extras: Any,
) -> Tensor:
    """Integrate a linear-path velocity model along a MAC path in γ-space; ``steps`` = NFE.

    ``noise`` [N, ...] must match ``path.data_shape``; returns the data end [N, ...]. On the uniform
    grid 0 = t_0 < … < t_steps = 1, with β_i = path.beta_t(t_i) [N, ...] (the data weight; the
    noise weight is 1 − β):

        v̂ = model(x_i, mean_d β_i),  x̂_noise = x_i − β_i⊙v̂,  x̂_data = x_i + (1 − β_i)⊙v̂,
        x_{i+1} = (1 − β_{i+1})⊙x̂_noise + β_{i+1}⊙x̂_data = x_i + (β_{i+1} − β_i)⊙v̂.

    Why this is the SI form of the paper's EDM γ-sampler (x += Δγ₁⊙(x − D(x))/γ₁): dimension by
    dimension, x on the MAC path is the linear path at time β, and a linear-path velocity
    estimates data − noise, so (x̂_noise, x̂_data) are read off x with the MAC path's own β_i, then
    re-mixed at t_{i+1}. Only β is needed, never its derivative, which diverges at t → 1. The
    model takes one time per row: it gets the row's mean data weight, the linear-path time whose
    data weight matches x's on average (what the paper's code feeds its denoiser: the mean of
    γ₁). Reading x̂_noise off with that scalar time instead (the linear path's own
    noise_and_data_from_velocity) would add (β_i − mean β_i)⊙v̂ at every step, an error that does
    not shrink with the step size. With w = 0, β = t and this is plain Euler on the linear path.
    Order: 1 on a smooth β(t). With q > 1 and w ≠ 0, β has an infinite slope at t = 1
    (τ^{1/q}) and the uniform grid converges more slowly: on N(1.5, 0.7²) data with the exact
    velocity and the registry's example weights, q = 7 leaves a max error of 0.48, 0.43, 0.33 at
    64, 128, 256 steps (q = 1: 0.064, 0.033, 0.017). A grid uniform in (1 − t)^{1/q} (EDM's
    ρ-spacing with ρ = q) restores order 1 there (0.16, 0.082, 0.041); it is not used yet, since
    the MAC nets and their figures were trained through this uniform grid.

    It runs with autograd on, so a coefficient net can be trained through it (``diffusion`` and
    ``generator`` are the registry's signature; the loop is deterministic and ignores them).
    """
    if tuple(noise.shape) != path.data_shape:
        raise ParamgenError(
            f"noise must have the MAC path's shape {list(path.data_shape)} (its weights "
            f"[N, 2, M, ...] set N and the trailing dimensions), got {list(noise.shape)}"
        )
    x = noise
    beta = path.beta_t(times(0.0, x))
    for _, t1 in intervals(steps):
        velocity = model(x, beta.flatten(1).mean(dim=1), **extras)
        beta_next = path.beta_t(times(t1, x))
        x = x + (beta_next - beta) * velocity
        beta = beta_next
    return x
