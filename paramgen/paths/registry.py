"""The path registry: every path paramgen knows, built-in or a user's, found by name.

An entry builds its path from keyword options (``make_path(name, **options)``) and gives an
``example(data_shape, generator)``, a representative instance that the contract battery in
``tests/paramgen/paths`` checks, so registering a path is what gets it tested. A path whose state
is bound to one batch of trajectories (the MAC path's weights) is ``per_batch``: it cannot be a
generator's path, and ``make_path`` needs its options.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from paramgen.errors import ParamgenError
from paramgen.paths.base import Path
from paramgen.paths.continuous import LinearPath, TrigPath
from paramgen.paths.ddpm import DDPMPath
from paramgen.paths.mac import MacPath
from paramgen.paths.stochastic import (
    BrownianGamma,
    QuadraticGamma,
    SineSquaredGamma,
    StochasticInterpolant,
)

__all__ = [
    "PathEntry",
    "register_path",
    "make_path",
    "path_names",
    "generator_path_names",
    "path_example",
    "path_help",
]

Example = Callable[[tuple[int, ...], torch.Generator], Path]


@dataclass(frozen=True)
class PathEntry:
    """How to build a registered path, an instance to test it on, and whether it is per batch."""

    build: Callable[..., Path]
    example: Example
    help: str
    per_batch: bool = False


_PATHS: dict[str, PathEntry] = {}


def register_path(
    name: str,
    build: Callable[..., Path],
    *,
    help: str,
    example: Example | None = None,
    per_batch: bool = False,
) -> None:
    """Make ``name`` known: ``build(**options)`` returns the path; ``example`` defaults to
    ``build()`` with its defaults."""
    if name in _PATHS:
        raise ParamgenError(f"a path named {name!r} is already registered")
    _PATHS[name] = PathEntry(build, example or (lambda shape, generator: build()), help, per_batch)


def path_names() -> list[str]:
    """Every registered path name, in registration order."""
    return list(_PATHS)


def generator_path_names() -> list[str]:
    """The registered paths a generator can train on (those not bound to one batch)."""
    return [name for name, entry in _PATHS.items() if not entry.per_batch]


def _entry(name: str) -> PathEntry:
    try:
        return _PATHS[name]
    except KeyError:
        raise ParamgenError(f"unknown path {name!r}; expected one of {', '.join(_PATHS)}") from None


def make_path(name: str, **options) -> Path:
    """The path registered as ``name``, built with ``options`` (none: its defaults)."""
    return _entry(name).build(**options)


def path_help(name: str) -> str:
    """One line on the registered path ``name``."""
    return _entry(name).help


def path_example(name: str, data_shape: tuple[int, ...], generator: torch.Generator) -> Path:
    """A representative instance of the registered path ``name`` for data shaped ``data_shape``."""
    return _entry(name).example(data_shape, generator)


def _mac_example(data_shape: tuple[int, ...], generator: torch.Generator) -> MacPath:
    """A MAC path with random weights of 3 basis functions for every dimension."""
    weights = 0.3 * torch.randn(data_shape[0], 2, 3, *data_shape[1:], generator=generator)
    return MacPath(weights)


register_path("linear", LinearPath, help="rectified flow: α = 1 − t, β = t (velocity)")
register_path("trig", TrigPath, help="variance preserving: α = cos(πt/2), β = sin(πt/2) (velocity)")
register_path("ddpm", DDPMPath, help="discrete DDPM, linear betas 1e-4 to 0.02 (ε-prediction)")
register_path(
    "ddpm-scaled-linear",
    functools.partial(DDPMPath, schedule="scaled-linear", spacing="leading"),
    help="Stable Diffusion's schedule (√β linear, 0.00085 to 0.012; ᾱ_T = 0.0047), ε-prediction, "
    "leading timesteps",
)
register_path(
    "ddpm-cosine",
    functools.partial(DDPMPath, schedule="cosine"),
    help="discrete DDPM, cosine ᾱ (Nichol & Dhariwal), ε-prediction",
)
register_path(
    "ddpm-scaled-linear-zero-snr-v",
    functools.partial(
        DDPMPath,
        schedule="scaled-linear",
        zero_terminal_snr=True,
        prediction="v",
        spacing="trailing",
    ),
    help="Stable Diffusion's schedule rescaled to ᾱ_T = 0 (Lin et al.), v-prediction, trailing "
    "timesteps",
)
for _base in (LinearPath, TrigPath):
    for _gamma in (BrownianGamma, QuadraticGamma, SineSquaredGamma):
        register_path(
            f"{_base.name}+{_gamma.name}",
            lambda base=_base, gamma=_gamma, scale=1.0: StochasticInterpolant(base(), gamma(scale)),
            help=f"stochastic interpolant: the {_base.name} path plus {_gamma.name} γ(t)·z",
        )
register_path(
    "mac",
    MacPath,
    help="per-dimension adaptive coefficients, weights bound to one batch (MAC)",
    example=_mac_example,
    per_batch=True,
)
