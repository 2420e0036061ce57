"""MAC coefficient nets: a trajectory's start point → the weights of its own MAC path.

A coefficient net maps x_start [N, ...] (the noise a trajectory starts from) to weights
w [N, 2, M, ...] (f and g weights of M basis functions per dimension) with |w| ≤ scale:

    w = scale · unscaled(x_start),  unscaled ∈ [−1, 1]

The paper (Lee et al., ICML 2025) uses s·LPF(tanh(φ(x_T))) with s = 0.05, M = 5, q = 7. Subclasses
only supply ``unscaled``: :class:`MacMLP` (tanh of an MLP) for vectors, :class:`MacConvNet`
(tanh of a small conv net, then a Gaussian low-pass filter, as the paper) for images. The net
also holds the path's exponent q, so it describes the whole MAC family: ``net.path(x_start)`` is
the :class:`paramgen.paths.MacPath` to hand to :func:`paramgen.solvers.gamma_euler`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paramgen.errors import ParamgenError
from paramgen.paths import MacPath
from paramgen.persistence import Pretrained

__all__ = ["MacCoefficientNet", "MacConvNet", "MacMLP", "gaussian_kernel"]


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


def gaussian_kernel(sigma: float, size: int) -> Tensor:
    """[size] normalised 1D Gaussian taps (odd ``size``), the separable factor of the 2D LPF."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    taps = torch.exp(-(x**2) / (2 * sigma**2))
    return (taps / taps.sum()).float()


class MacConvNet(MacCoefficientNet, Pretrained):
    """For images [N, C, H, W]: w = scale·renorm(LPF(tanh(conv net(x_start)))), [N, 2, M, C, H, W].

    The conv net is ``depth`` zero-padded 3×3 SiLU convolutions of width ``hidden`` and a 3×3
    convolution to 2·M·C channels (a few thousand parameters, not the paper's 391M DDPM++ U-Net:
    the nets become zoo rows). LPF: a separable Gaussian with std ``sigma`` px and ``kernel`` taps,
    reflect-padded; the paper's σ = 4 px, 19 taps at 32² scale to 2 px, 9 taps at 16². With
    ``renormalise`` (the paper's), every sample's filtered map is min–max rescaled to [−1, 1] as a
    whole, giving back the amplitude the filter averages away; the shape of the map is what the
    net learns. The rescaling is affine per sample, so w stays as smooth as the filter made it.
    """

    config_keys = (
        "channels",
        "basis_size",
        "scale",
        "exponent",
        "hidden",
        "depth",
        "sigma",
        "kernel",
        "renormalise",
    )

    def __init__(
        self,
        channels: int = 1,
        basis_size: int = 5,
        scale: float = 0.05,
        exponent: float = 7.0,
        hidden: int = 16,
        depth: int = 2,
        sigma: float = 2.0,
        kernel: int = 9,
        renormalise: bool = True,
    ):
        super().__init__(basis_size, scale, exponent)
        for name, value in (("channels", channels), ("hidden", hidden), ("depth", depth)):
            _check_positive_int(name, value)
        _check_positive_int("kernel", kernel)
        if kernel % 2 == 0:
            raise ParamgenError(f"kernel must be odd (a centred filter), got {kernel}")
        if not sigma > 0:
            raise ParamgenError(f"sigma must be > 0 px (the paper's is 2 px at 16²), got {sigma}")
        self.channels, self.hidden, self.depth = channels, hidden, depth
        self.sigma, self.kernel, self.renormalise = float(sigma), kernel, bool(renormalise)
        widths = [channels] + [hidden] * depth
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv2d(width_in, width_out, 3, padding=1), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(hidden, 2 * basis_size * channels, 3, padding=1)
        # Not saved: it follows from sigma and kernel, so rows hold only learnt numbers.
        self.register_buffer("taps", gaussian_kernel(sigma, kernel), persistent=False)

    def lowpass(self, maps: Tensor) -> Tensor:
        """[N, K, H, W] → the same, each map blurred by the separable Gaussian (reflect padding)."""
        k, pad = maps.shape[1], self.kernel // 2
        row = self.taps.to(maps.dtype).view(1, 1, 1, -1).expand(k, 1, 1, -1)
        column = row.transpose(2, 3)
        maps = F.conv2d(F.pad(maps, (pad, pad, 0, 0), mode="reflect"), row, groups=k)
        return F.conv2d(F.pad(maps, (0, 0, pad, pad), mode="reflect"), column, groups=k)

    def filtered(self, x_start: Tensor) -> Tensor:
        """LPF(tanh(net(x_start))) before renormalisation, [N, 2·M·C, H, W]."""
        if x_start.ndim != 4 or x_start.shape[1] != self.channels:
            raise ParamgenError(
                f"x_start must have shape [N, {self.channels}, H, W] (channels={self.channels}), "
                f"got {list(x_start.shape)}"
            )
        if min(x_start.shape[2:]) <= self.kernel // 2:
            raise ParamgenError(
                f"images must be larger than kernel // 2 = {self.kernel // 2} px on each side "
                f"(reflect padding), got {list(x_start.shape[2:])}; use a smaller kernel"
            )
        return self.lowpass(torch.tanh(self.out(self.body(x_start))))

    def unscaled(self, x_start: Tensor) -> Tensor:
        maps = self.filtered(x_start)  # [N, 2·M·C, H, W]
        if self.renormalise:
            flat = maps.flatten(1)
            low, high = flat.min(dim=1).values, flat.max(dim=1).values
            span = (high - low).clamp_min(torch.finfo(maps.dtype).eps)
            maps = (2 * (maps - low[:, None, None, None]) / span[:, None, None, None]) - 1
        n, _, h, w = maps.shape
        return maps.view(n, 2, self.basis_size, self.channels, h, w)
