"""2D toy distributions (the torchcfm conventions), for paths, samplers and MAC experiments."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from paramgen.errors import ParamgenError

__all__ = ["TOY_DISTRIBUTIONS", "sample_toy"]


def _gaussian(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(n, 2, generator=generator)


def _eight_gaussians(n: int, generator: torch.Generator) -> torch.Tensor:
    """Eight modes on a circle of radius 5, as torchcfm's ``sample_8gaussians`` draws them.

    torchcfm passes ``var=0.1`` to MultivariateNormal as the covariance matrix √0.1·I, so each
    mode's std is 0.1**0.25 ≈ 0.56 (not √0.1); we match it so W2 figures are comparable.
    """
    angles = torch.arange(8) * (2 * math.pi / 8)
    centres = 5.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    which = torch.randint(8, (n,), generator=generator)
    return centres[which] + 0.1**0.25 * torch.randn(n, 2, generator=generator)


def _moons(n: int, generator: torch.Generator) -> torch.Tensor:
    """sklearn's two moons with noise 0.2, scaled ×3 and shifted by −1 (torchcfm's scaling)."""
    from sklearn.datasets import make_moons  # sklearn takes 1.5 s to import: only when used

    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    points, _ = make_moons(n_samples=n, noise=0.2, random_state=seed)
    return torch.tensor(points, dtype=torch.float32) * 3 - 1


def _checkerboard(n: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform on the black squares of a 4×4 board spanning [−4, 4]² (log-density −log 32)."""
    x1 = torch.rand(n, generator=generator) * 4 - 2
    x2 = torch.rand(n, generator=generator) - torch.randint(2, (n,), generator=generator) * 2
    x2 = x2 + (torch.floor(x1) % 2)
    return torch.stack([x1, x2], dim=1) * 2


TOY_DISTRIBUTIONS: dict[str, Callable[[int, torch.Generator], torch.Tensor]] = {
    "gaussian": _gaussian,
    "8gaussians": _eight_gaussians,
    "moons": _moons,
    "checkerboard": _checkerboard,
}


def sample_toy(name: str, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` samples [n, 2] of the named distribution, reproducible from ``seed``."""
    if name not in TOY_DISTRIBUTIONS:
        raise ParamgenError(
            f"unknown toy distribution {name!r}; choose one of {list(TOY_DISTRIBUTIONS)}"
        )
    if n < 1:
        raise ParamgenError(f"n must be >= 1, got {n}")
    return TOY_DISTRIBUTIONS[name](n, torch.Generator().manual_seed(seed))
