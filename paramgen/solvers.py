"""Samplers: integrate a trained model from noise to data along its path.

One entry point, :func:`sample`, resolves a sampler name through :data:`SAMPLERS`; each entry
says which kind of path it integrates, so asking for ``ddim`` on a flow path or ``heun`` on a
DDPM path is refused with the samplers that do fit.

Continuous paths (velocity models) use a uniform grid 0 = t_0 < … < t_steps = 1:

* ``euler``: x ← x + Δt·v (first order).
* ``heun``: Euler predictor, trapezoidal corrector (second order; 2 model calls a step).
* ``euler-maruyama``: the forward SDE of stochastic interpolants, dX = (v + ε·s)dt + √(2ε)dW,
  with s = path.score. Its marginals equal the ODE's for any ε ≥ 0, but s ~ 1/α diverges at t = 1,
  so steps ending within 1e-3 of t = 1 are plain Euler ODE steps. The ε·s term is stiff where α is
  small (explicit stability needs roughly Δt·ε/α² < 2), so sharply peaked data want more steps or
  a smaller ε.

DDPM paths (ε models) run k from T−1 down to 0 on ``steps`` timesteps with "linspace" spacing:
round(linspace(T−1, 0, steps)), which keeps both ends (only T−1 when steps = 1). The last step
always jumps to the clean data (ᾱ_prev = 1). No x̂₀ clipping: latents are not bounded.

* ``ddpm``: ancestral sampling with the posterior variance β̃ (Ho et al. 2020, eq. 6–7), using
  the effective β_eff = 1 − ᾱ_k / ᾱ_prev between kept steps.
* ``ddim``: deterministic DDIM, η = 0 (Song et al. 2021, eq. 12).

The model is ``model(x, t, **extras)`` with t a [N] float tensor; extras (conditioning) pass
through untouched; classifier-free guidance belongs in a wrapped model. Sampling runs under
``torch.no_grad()``.

MAC paths (:class:`paramgen.mac_path.MacPath`, weights bound to one batch) have their own
sampler, :func:`gamma_euler`: a linear-path velocity model stepped in γ-space. It runs with
autograd on, so a coefficient net can be trained through it; wrap it in ``torch.no_grad()`` to
only sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from paramgen.errors import ParamgenError
from paramgen.interpolants import ContinuousPath, DDPMPath, Path
from paramgen.mac_path import MacPath

__all__ = [
    "Model",
    "Sampler",
    "SAMPLERS",
    "samplers_for",
    "ddpm_timesteps",
    "sample",
    "gamma_euler",
]

Model = Callable[..., Tensor]
"""``model(x [N, ...], t [N], **extras) -> [N, ...]``: velocity or ε, as the path says."""

# Steps that end this close to t = 1 skip the score term, which diverges there.
_SCORE_CUTOFF = 1e-3


@dataclass(frozen=True)
class Sampler:
    """A sampling loop and the kind of path it can integrate.

    ``run(path, model, x, steps, diffusion, generator, extras)`` returns the data end [N, ...].
    """

    path_type: type[Path]
    run: Callable[..., Tensor]
    help: str


def _times(value: float | Tensor, x: Tensor) -> Tensor:
    """The model's time input: ``value`` repeated for every row, [N] in x's dtype and device."""
    return torch.full((x.shape[0],), float(value), dtype=x.dtype, device=x.device)


def _randn(x: Tensor, generator: torch.Generator | None) -> Tensor:
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)


def _grid(steps: int) -> list[float]:
    """0 = t_0 < … < t_steps = 1, uniform; float64 so that the last interval ends exactly at 1."""
    return torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64).tolist()


def _euler(path, model, x, steps, diffusion, generator, extras) -> Tensor:
    grid = _grid(steps)
    for t0, t1 in zip(grid[:-1], grid[1:], strict=True):
        x = x + (t1 - t0) * model(x, _times(t0, x), **extras)
    return x


def _heun(path, model, x, steps, diffusion, generator, extras) -> Tensor:
    grid = _grid(steps)
    for t0, t1 in zip(grid[:-1], grid[1:], strict=True):
        dt = t1 - t0
        v0 = model(x, _times(t0, x), **extras)
        v1 = model(x + dt * v0, _times(t1, x), **extras)
        x = x + 0.5 * dt * (v0 + v1)
    return x


def _euler_maruyama(path: ContinuousPath, model, x, steps, diffusion, generator, extras) -> Tensor:
    grid = _grid(steps)
    for t0, t1 in zip(grid[:-1], grid[1:], strict=True):
        dt = t1 - t0
        t = _times(t0, x)
        v = model(x, t, **extras)
        if 1.0 - t1 < _SCORE_CUTOFF or diffusion == 0:
            x = x + dt * v
            continue
        drift = v + diffusion * path.score(x, v, t)
        x = x + dt * drift + math.sqrt(2 * diffusion * dt) * _randn(x, generator)
    return x


def ddpm_timesteps(path: DDPMPath, steps: int) -> list[int]:
    """round(linspace(T−1, 0, steps)): ``steps`` distinct timesteps, descending, both ends kept."""
    if steps > path.steps:
        raise ParamgenError(
            f"steps must be <= {path.steps} (the DDPM path's length) for DDPM samplers, got {steps}"
        )
    return torch.linspace(path.steps - 1, 0, steps, dtype=torch.float64).round().long().tolist()


def _ddpm_pairs(path: DDPMPath, steps: int) -> list[tuple[int, float, float]]:
    """(k, ᾱ_k, ᾱ_prev) per step; ᾱ_prev = 1 after the last kept step (the clean data)."""
    ks = ddpm_timesteps(path, steps)
    bars = path.alphas_cumprod.tolist()
    prev = [bars[k] for k in ks[1:]] + [1.0]
    return [(k, bars[k], p) for k, p in zip(ks, prev, strict=True)]


def _x0_hat(x: Tensor, eps: Tensor, alpha_bar: float) -> Tensor:
    return (x - math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha_bar)


def _ddpm(path: DDPMPath, model, x, steps, diffusion, generator, extras) -> Tensor:
    for k, bar, bar_prev in _ddpm_pairs(path, steps):
        eps = model(x, _times(k / path.steps, x), **extras)
        beta = 1 - bar / bar_prev  # effective β between the kept steps
        x0 = _x0_hat(x, eps, bar)
        mean = (math.sqrt(bar_prev) * beta / (1 - bar)) * x0 + (
            math.sqrt(1 - beta) * (1 - bar_prev) / (1 - bar)
        ) * x
        variance = (1 - bar_prev) / (1 - bar) * beta  # β̃, zero on the last step
        x = mean + math.sqrt(variance) * _randn(x, generator) if variance > 0 else mean
    return x


def _ddim(path: DDPMPath, model, x, steps, diffusion, generator, extras) -> Tensor:
    for k, bar, bar_prev in _ddpm_pairs(path, steps):
        eps = model(x, _times(k / path.steps, x), **extras)
        x = math.sqrt(bar_prev) * _x0_hat(x, eps, bar) + math.sqrt(1 - bar_prev) * eps
    return x


SAMPLERS: dict[str, Sampler] = {
    "euler": Sampler(ContinuousPath, _euler, "first-order ODE"),
    "heun": Sampler(ContinuousPath, _heun, "second-order ODE, 2 model calls per step"),
    "euler-maruyama": Sampler(ContinuousPath, _euler_maruyama, "SDE with diffusion ε"),
    "ddpm": Sampler(DDPMPath, _ddpm, "ancestral sampling with posterior variance"),
    "ddim": Sampler(DDPMPath, _ddim, "deterministic DDIM (eta = 0)"),
}


def samplers_for(path: Path) -> list[str]:
    """Names of the samplers that can integrate ``path``, in registry order."""
    return [name for name, entry in SAMPLERS.items() if isinstance(path, entry.path_type)]


def _check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ParamgenError(f"steps must be an integer >= 1, got {steps!r}")


def _resolve(path: Path, sampler: str) -> Sampler:
    fitting = samplers_for(path)
    if sampler not in SAMPLERS:
        raise ParamgenError(
            f"unknown sampler {sampler!r}; expected one of {', '.join(SAMPLERS)} "
            f"({', '.join(fitting)} for the {path.name!r} path)"
        )
    if sampler not in fitting:
        raise ParamgenError(
            f"sampler {sampler!r} does not fit the {path.name!r} path "
            f"({path.prediction} prediction); use one of {', '.join(fitting)}"
        )
    return SAMPLERS[sampler]


@torch.no_grad()
def sample(
    path: Path,
    model: Model,
    noise: Tensor,
    *,
    sampler: str,
    steps: int,
    diffusion: float = 1.0,
    generator: torch.Generator | None = None,
    **extras: Any,
) -> Tensor:
    """Integrate ``model`` from ``noise`` [N, ...] to the data end of ``path``; returns [N, ...].

    ``steps`` is the number of grid intervals (continuous paths) or of kept timesteps (DDPM);
    ``diffusion`` is ε of the euler-maruyama SDE (other samplers ignore it); ``generator`` drives
    the random draws of the stochastic samplers; ``extras`` go to every model call.
    """
    entry = _resolve(path, sampler)
    _check_steps(steps)
    if diffusion < 0:
        raise ParamgenError(f"diffusion must be >= 0, got {diffusion}")
    if noise.ndim < 1:
        raise ParamgenError(f"noise must have shape [N, ...], got {tuple(noise.shape)}")
    return entry.run(path, model, noise, steps, diffusion, generator, extras)


def gamma_euler(path: MacPath, model: Model, noise: Tensor, *, steps: int, **extras: Any) -> Tensor:
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
    """
    _check_steps(steps)
    if tuple(noise.shape) != path.data_shape:
        raise ParamgenError(
            f"noise must have the MAC path's shape {list(path.data_shape)} (its weights "
            f"[N, 2, M, ...] set N and the trailing dimensions), got {list(noise.shape)}"
        )
    x = noise
    beta = path.beta_t(_times(0.0, x))
    for t1 in _grid(steps)[1:]:
        velocity = model(x, beta.flatten(1).mean(dim=1), **extras)
        beta_next = path.beta_t(_times(t1, x))
        x = x + (beta_next - beta) * velocity
        beta = beta_next
    return x
