"""What every sampling loop shares: the model type, time grids, draws and argument checks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from paramgen.errors import ParamgenError

__all__ = ["Model", "times", "randn", "intervals", "check_steps", "checked"]

Model = Callable[..., Tensor]
"""``model(x [N, ...], t [N], **extras) -> [N, ...]``: velocity or ε, as the path says."""


def times(value: float | Tensor, x: Tensor) -> Tensor:
    """The model's time input: ``value`` repeated for every row, [N] in x's dtype and device."""
    return torch.full((x.shape[0],), float(value), dtype=x.dtype, device=x.device)


def randn(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal draws shaped like x, made on the generator's device and moved to x's."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)


def intervals(steps: int) -> list[tuple[float, float]]:
    """(t_i, t_{i+1}) of the uniform grid 0 = t_0 < … < t_steps = 1, built in float64 so that
    the last interval ends exactly at 1."""
    points = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64).tolist()
    return list(zip(points[:-1], points[1:], strict=True))


def check_steps(steps: int) -> None:
    """Refuse a step count that is not an integer >= 1."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ParamgenError(f"steps must be an integer >= 1, got {steps!r}")


def checked(run: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """A sampling loop that refuses bad ``steps`` and a negative ``diffusion`` by name, whether
    it is called through :func:`paramgen.solvers.sample` or directly."""

    @functools.wraps(run)
    def checked_run(*args: Any, steps: int, diffusion: float = 0.0, **kwargs: Any) -> Tensor:
        check_steps(steps)
        if diffusion < 0:
            raise ParamgenError(f"diffusion must be >= 0, got {diffusion}")
        return run(*args, steps=steps, diffusion=diffusion, **kwargs)

    return checked_run
