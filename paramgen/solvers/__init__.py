"""Samplers: integrate a trained model from noise to data along its path.

One entry point, :func:`sample`; one registry, :data:`SAMPLERS`, each entry with the path type
it fits. ODE/SDE loops for continuous paths in ``ode``, DDPM loops in ``ddpm``, the MAC γ-space
loop in ``mac``; One More Step, a learned first step for DDPM samplers, in
``one_more_step``.
"""

from paramgen.solvers.common import Model
from paramgen.solvers.ddpm import ddim, ddpm, ddpm_timesteps
from paramgen.solvers.mac import gamma_euler
from paramgen.solvers.ode import euler, euler_maruyama, heun
from paramgen.solvers.one_more_step import OneMoreStep, train_one_more_step
from paramgen.solvers.registry import (
    SAMPLERS,
    FirstStep,
    Sampler,
    register_sampler,
    sample,
    samplers_for,
)

__all__ = [
    "Model",
    "Sampler",
    "SAMPLERS",
    "register_sampler",
    "samplers_for",
    "sample",
    "euler",
    "heun",
    "euler_maruyama",
    "ddpm",
    "ddim",
    "ddpm_timesteps",
    "gamma_euler",
    "FirstStep",
    "OneMoreStep",
    "train_one_more_step",
]
