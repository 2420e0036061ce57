"""The sampler registry and the one entry point, :func:`sample`.

Each sampler is registered with the type of path it integrates, so asking for ``ddim`` on a flow
path or ``heun`` on a DDPM path is refused with the samplers that do fit. A sampler is
``run(path, model, x, *, steps, diffusion, generator, **extras) -> data end [N, ...]``; the model
is ``model(x, t, **extras)`` with t a [N] float tensor, extras (conditioning) pass through
untouched, and guidance is a wrapped model (:mod:`paramgen.guidance`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from paramgen.errors import ParamgenError
from paramgen.paths import ContinuousPath, DDPMPath, MacPath, Path
from paramgen.solvers.common import Model, check_steps
from paramgen.solvers.ddpm import ddim, ddpm, ddpm_timesteps
from paramgen.solvers.mac import gamma_euler
from paramgen.solvers.ode import euler, euler_maruyama, heun

__all__ = [
    "FirstStep",
    "Sampler",
    "SAMPLERS",
    "register_sampler",
    "samplers_for",
    "sample",
]


FirstStep = Callable[..., Tensor]
"""``first_step(noise [N, ...], alpha_bar: float, *, generator, **extras) -> x [N, ...]``: the
start of a DDPM sampler at its first timestep (ᾱ = ``alpha_bar``), made from the noise."""


@dataclass(frozen=True)
class Sampler:
    """A sampling loop, the kind of path it can integrate, and its convergence order (the order
    of its error in the step size on a smooth flow; the solver battery checks it)."""

    path_type: type[Path]
    run: Callable[..., Tensor]
    help: str
    order: int
    stochastic: bool = False


SAMPLERS: dict[str, Sampler] = {}


def register_sampler(name: str, sampler: Sampler) -> None:
    """Make ``sampler`` known as ``name``; it fits every path that is a ``sampler.path_type``."""
    if name in SAMPLERS:
        raise ParamgenError(f"a sampler named {name!r} is already registered")
    SAMPLERS[name] = sampler


def samplers_for(path: Path) -> list[str]:
    """Names of the samplers that can integrate ``path``, in registry order."""
    return [name for name, entry in SAMPLERS.items() if isinstance(path, entry.path_type)]


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
    first_step: FirstStep | None = None,
    **extras: Any,
) -> Tensor:
    """Integrate ``model`` from ``noise`` [N, ...] to the data end of ``path``; returns [N, ...].

    ``steps`` is the number of grid intervals (continuous paths) or of kept timesteps (DDPM);
    ``diffusion`` is ε of the euler-maruyama SDE (other samplers ignore it); ``generator`` drives
    the random draws of the stochastic samplers; ``extras`` go to every model call. Runs without
    autograd; call a sampler's function directly to differentiate through it (MAC training).
    ``first_step`` (DDPM paths): ``first_step(noise, ᾱ, generator=, **extras)`` turns the noise
    into x at the sampler's first timestep, whose ᾱ it is given (One More Step,
    :class:`paramgen.solvers.OneMoreStep`); the sampler then runs from there unchanged.
    """
    entry = _resolve(path, sampler)
    if noise.ndim < 1:
        raise ParamgenError(f"noise must have shape [N, ...], got {tuple(noise.shape)}")
    if first_step is not None:
        if not isinstance(path, DDPMPath):
            raise ParamgenError(
                f"a first step (One More Step) needs a DDPM path, not {path.name!r}: it jumps to "
                "the first timestep of a discrete schedule"
            )
        check_steps(steps)
        alpha_bar = path.alphas_cumprod[ddpm_timesteps(path, steps)[0]].item()
        noise = first_step(noise, alpha_bar, generator=generator, **extras)
    return entry.run(
        path, model, noise, steps=steps, diffusion=diffusion, generator=generator, **extras
    )


register_sampler("euler", Sampler(ContinuousPath, euler, "first-order ODE", order=1))
register_sampler(
    "heun", Sampler(ContinuousPath, heun, "second-order ODE, 2 model calls per step", order=2)
)
register_sampler(
    "euler-maruyama",
    Sampler(ContinuousPath, euler_maruyama, "SDE with diffusion ε", order=1, stochastic=True),
)
register_sampler(
    "ddpm",
    Sampler(DDPMPath, ddpm, "ancestral sampling with posterior variance", order=1, stochastic=True),
)
register_sampler("ddim", Sampler(DDPMPath, ddim, "deterministic DDIM (eta = 0)", order=1))
register_sampler(
    "gamma-euler",
    Sampler(MacPath, gamma_euler, "γ-space Euler for MAC paths (linear-path velocity)", order=1),
)
