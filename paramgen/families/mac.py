"""MAC coefficient nets: a trajectory's start point → the weights of its own MAC path.

A coefficient net maps x_start [N, ...] (the noise a trajectory starts from) to weights
w [N, 2, M, ...] (f and g weights of M basis functions per dimension) with |w| ≤ scale:

    w = scale · unscaled(x_start),  unscaled ∈ [−1, 1]

The paper (Lee et al., ICML 2025) uses s·LPF(tanh(φ(x_T))) with s = 0.05, M = 5, q = 7. Subclasses
only supply ``unscaled``: :class:`MacMLP` (tanh of an MLP) for vectors; an image net would
low-pass filter after its tanh. The net also holds the path's exponent q, so it describes the whole
MAC family: ``net.path(x_start)`` is the :class:`paramgen.mac_path.MacPath` to hand to
:func:`paramgen.solvers.gamma_euler`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from paramgen.errors import ParamgenError
from paramgen.mac_path import MacPath

__all__ = ["MacCoefficientNet", "MacMLP"]


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParamgenError(f"{name} must be an integer >= 1, got {value!r}")


class MacCoefficientNet(nn.Module, ABC):
    """x_start [N, ...] → MAC weights [N, 2, M, ...], |w| ≤ scale; swap subclasses freely.

    ``basis_size`` is M, ``scale`` is s, ``exponent`` is the basis exponent q.
    """

    def __init__(self, basis_size: int = 5, scale: float = 0.05, exponent: float = 7.0):
        super().__init__()
        _check_positive_int("basis_size", basis_size)
        if not scale > 0:
            raise ParamgenError(f"scale must be > 0 (the paper uses 0.05), got {scale}")
        if not exponent > 0:
            raise ParamgenError(f"exponent (q) must be > 0 (the paper uses 7), got {exponent}")
        self.basis_size, self.scale, self.exponent = basis_size, float(scale), float(exponent)

    @abstractmethod
    def unscaled(self, x_start: Tensor) -> Tensor:
        """[N, ...] → [N, 2, M, ...] with values in [−1, 1]."""

    def forward(self, x_start: Tensor) -> Tensor:
        """The weights w = scale·unscaled(x_start), [N, 2, M, ...]."""
        return self.scale * self.unscaled(x_start)

    def path(self, x_start: Tensor) -> MacPath:
        """The MAC path of the trajectories starting at ``x_start`` [N, ...]."""
        return MacPath(self(x_start), exponent=self.exponent)


class MacMLP(MacCoefficientNet):
    """For vectors [N, dims]: ``depth`` hidden SiLU layers of width ``hidden``, then tanh.

    PyTorch's default initialisation, not zero: S enters the path squared, so w = 0 (the linear
    path) is a stationary point where every gradient vanishes.
    """

    def __init__(
        self,
        dims: int,
        basis_size: int = 5,
        scale: float = 0.05,
        exponent: float = 7.0,
        hidden: int = 64,
        depth: int = 2,
    ):
        super().__init__(basis_size, scale, exponent)
        for name, value in (("dims", dims), ("hidden", hidden), ("depth", depth)):
            _check_positive_int(name, value)
        self.dims = dims
        widths = [dims] + [hidden] * depth
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(width_in, width_out), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(hidden, 2 * basis_size * dims)

    def unscaled(self, x_start: Tensor) -> Tensor:
        if x_start.ndim != 2 or x_start.shape[1] != self.dims:
            raise ParamgenError(
                f"x_start must have shape [N, {self.dims}] (dims={self.dims}), "
                f"got {list(x_start.shape)}"
            )
        raw = self.out(self.body(x_start))  # [N, 2·M·dims]
        return torch.tanh(raw).view(-1, 2, self.basis_size, self.dims)
