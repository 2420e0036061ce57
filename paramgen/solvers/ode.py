"""ODE and SDE samplers for continuous (velocity) paths, on a uniform grid 0 = t_0 < … < 1.

* ``euler``: x ← x + Δt·v (first order).
* ``heun``: Euler predictor, trapezoidal corrector (second order; 2 model calls a step).
* ``euler-maruyama``: the forward SDE of stochastic interpolants, dX = (v + ε·s)dt + √(2ε)dW,
  with s = path.score. Its marginals equal the ODE's for any ε ≥ 0, but s ~ 1/α diverges at t = 1,
  so steps ending within 1e-3 of t = 1 are plain Euler ODE steps. The ε·s term is stiff where α is
  small (explicit stability needs roughly Δt·ε/α² < 2), so sharply peaked data want more steps or
  a smaller ε.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from paramgen.paths import ContinuousPath, Path
from paramgen.solvers.common import Model, checked, intervals, randn, times

__all__ = ["euler", "heun", "euler_maruyama"]

# Steps that end this close to t = 1 skip the score term, which diverges there.
_SCORE_CUTOFF = 1e-3


@checked
def euler(
    path: Path,
    model: Model,
    x: Tensor,
    *,
    steps: int,
    diffusion: float = 0.0,
    generator: torch.Generator | None = None,
    **extras: Any,
) -> Tensor:
    """First-order Euler ODE steps from noise x [N, ...] to the data end."""
    for t0, t1 in intervals(steps):
        x = x + (t1 - t0) * model(x, times(t0, x), **extras)
    return x


@checked
def heun(
    path: Path,
    model: Model,
    x: Tensor,
    *,
    steps: int,
    diffusion: float = 0.0,
    generator: torch.Generator | None = None,
    **extras: Any,
) -> Tensor:
    """Heun (second order, 2 model calls a step) from noise x [N, ...] to the data end."""
    for t0, t1 in intervals(steps):
        dt = t1 - t0
        v0 = model(x, times(t0, x), **extras)
        v1 = model(x + dt * v0, times(t1, x), **extras)
        x = x + 0.5 * dt * (v0 + v1)
    return x


@checked
def euler_maruyama(
    path: ContinuousPath,
    model: Model,
    x: Tensor,
    *,
    steps: int,
    diffusion: float = 0.0,
    generator: torch.Generator | None = None,
    **extras: Any,
) -> Tensor:
    """Euler–Maruyama on the SDE with diffusion ε (module docstring); plain Euler where ε = 0."""
    for t0, t1 in intervals(steps):
        dt = t1 - t0
        t = times(t0, x)
        v = model(x, t, **extras)
        if 1.0 - t1 < _SCORE_CUTOFF or diffusion == 0:
            x = x + dt * v
            continue
        drift = v + diffusion * path.score(x, v, t)
        x = x + dt * drift + math.sqrt(2 * diffusion * dt) * randn(x, generator)
    return x
