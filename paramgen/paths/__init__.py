"""Paths from noise to data: what a generator trains on, and how its samplers read it back.

One contract (:class:`Path`, in ``base``), one module per kind of path, one registry. Built-ins:
``linear`` and ``trig`` (continuous, velocity), ``ddpm`` (discrete, ε), the stochastic
interpolants ``linear+brownian`` … ``trig+sine-squared``, and ``mac`` (per batch).
"""

from paramgen.paths.base import Coefficients, Path, PathSample, expand_like
from paramgen.paths.continuous import ContinuousPath, LinearPath, TrigPath
from paramgen.paths.ddpm import DDPMPath
from paramgen.paths.mac import MacPath, sin_pi
from paramgen.paths.registry import (
    PathEntry,
    generator_path_names,
    make_path,
    path_example,
    path_help,
    path_names,
    register_path,
)
from paramgen.paths.stochastic import (
    BrownianGamma,
    GammaSchedule,
    QuadraticGamma,
    SineSquaredGamma,
    StochasticInterpolant,
)

__all__ = [
    "Coefficients",
    "Path",
    "PathSample",
    "expand_like",
    "ContinuousPath",
    "LinearPath",
    "TrigPath",
    "DDPMPath",
    "MacPath",
    "sin_pi",
    "GammaSchedule",
    "BrownianGamma",
    "QuadraticGamma",
    "SineSquaredGamma",
    "StochasticInterpolant",
    "PathEntry",
    "register_path",
    "make_path",
    "path_names",
    "generator_path_names",
    "path_example",
    "path_help",
]
