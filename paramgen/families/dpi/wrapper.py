"""Deep Parameter Interpolation (Park et al.): any network conditioned on a scalar s by its weights.

``DPI(module, s_min, s_max)`` keeps two copies of every learnable tensor, θ0 (the module's own) and
θ1 (an exact copy at construction), and runs the module with (1 − λ(s))·θ0 + λ(s)·θ1: each layer
gets its mixed weight once per call and makes one ordinary call — outputs are never blended.
λ is one global monotone table with λ(s_min) = 0 and λ(s_max) = 1, the cumulative softmax of
learned logits (randn initialisation, as the paper), read with linear interpolation between
entries; s is normalised to u ∈ [0, 1] linearly or, with ``log_scale``, by log s (noise levels
spread over decades are better indexed by log σ).

Because θ1 = θ0 at the start, the wrapped model equals the original for every s and the λ logits
get exactly zero gradient on the first step; the copies separate as batches with different s
scale their gradients by λ and 1 − λ. One s per batch is the fast path; a batch with several
values runs once per distinct value (grouping), so it costs one call per distinct s.

``parameter_groups(lr)`` gives λ's logits their own learning rate (100× by default, as the paper).
Saved as ``config.json`` + ``model.safetensors`` (:mod:`paramgen.persistence`); loading needs a
fresh module of the same architecture to wrap.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.func import functional_call

from paramgen.errors import ParamgenError
from paramgen.persistence import Pretrained

__all__ = ["DPI", "LambdaTable"]


class LambdaTable(nn.Module):
    """λ(u) for u ∈ [0, 1]: monotone, λ(0) = 0, λ(1) = 1; ``size`` table entries."""

    def __init__(self, size: int = 1000) -> None:
        super().__init__()
        if size < 2:
            raise ParamgenError(f"a λ table needs at least 2 entries, got {size}")
        self.logits = nn.Parameter(torch.randn(size - 1))  # entry 0 is pinned to λ = 0

    def table(self) -> torch.Tensor:
        """[size] values: 0, then the cumulative softmax of the logits (ending at exactly 1)."""
        steps = torch.softmax(self.logits, dim=0)
        cumulative = torch.cumsum(steps, dim=0)
        # Exactly 1 at the end despite rounding; cummax keeps the table monotone by construction
        # whatever order the cumulative sum was added in (a no-op, gradient included, when it is).
        cumulative = torch.cummax(cumulative / cumulative[-1], dim=0).values.clamp(max=1.0)
        return torch.cat([cumulative.new_zeros(1), cumulative])

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        table = self.table()
        position = u.clamp(0, 1) * (len(table) - 1)
        low = position.floor().long().clamp(max=len(table) - 2)
        weight = position - low
        below, above = table[low], table[low + 1]
        # a + w·(b − a) capped at b is monotone in u by construction, in any float rounding:
        # (1 − w)·a + w·b is not — it stepped down by 4e-12 between entries 1e-11 apart on AMD.
        return torch.minimum(below + weight * (above - below), above)


class DPI(Pretrained, nn.Module):
    """``forward(x, s, *args)``: the wrapped module on x (and args) with weights mixed by λ(s).

    ``DPI.from_pretrained(folder, module)`` loads a saved one around a fresh ``module``.
    """

    config_keys = ("log_scale", "module", "s_max", "s_min", "table_size")
    optional_keys = frozenset({"module"})
    mismatch_fix = "build the module with the same sizes as the saved one"

    def __init__(
        self,
        module: nn.Module,
        s_min: float = 0.0,
        s_max: float = 1.0,
        table_size: int = 1000,
        log_scale: bool = False,
    ) -> None:
        super().__init__()
        if not s_max > s_min:
            raise ParamgenError(f"s_max must be greater than s_min, got {s_min}..{s_max}")
        if log_scale and s_min <= 0:
            raise ParamgenError(f"log_scale needs s_min > 0, got {s_min}")
        self.s_min, self.s_max, self.log_scale = float(s_min), float(s_max), log_scale
        self.theta0 = module
        self.theta1 = copy.deepcopy(module)
        self.names = [name for name, p in module.named_parameters() if p.requires_grad]
        if not self.names:
            raise ParamgenError("the module has no learnable parameters to interpolate")
        self.lam = LambdaTable(table_size)

    def normalise(self, s: torch.Tensor) -> torch.Tensor:
        """s → u ∈ [0, 1]; a value outside [s_min, s_max] is an error, not a silent clamp."""
        s = torch.as_tensor(s, dtype=torch.float32)
        tolerance = 1e-6 * (self.s_max - self.s_min)
        if (s < self.s_min - tolerance).any() or (s > self.s_max + tolerance).any():
            raise ParamgenError(
                f"s must lie in [{self.s_min:g}, {self.s_max:g}] (the DPI's range), got "
                f"{s.min().item():g}..{s.max().item():g}"
            )
        if self.log_scale:
            low, high = math.log(self.s_min), math.log(self.s_max)
            return (s.clamp_min(self.s_min).log() - low) / (high - low)
        return (s - self.s_min) / (self.s_max - self.s_min)

    def mixed_parameters(self, s: float | torch.Tensor) -> dict[str, torch.Tensor]:
        """The module's parameters (and buffers) at one value of s."""
        u = self.normalise(torch.as_tensor(s, dtype=torch.float32).reshape(1))
        lam = self.lam(u.to(self.lam.logits.device))[0]
        first = dict(self.theta0.named_parameters())
        second = dict(self.theta1.named_parameters())
        mixed = dict(first) | dict(self.theta0.named_buffers())
        for name in self.names:
            mixed[name] = torch.lerp(first[name], second[name], lam.to(first[name].dtype))
        return mixed

    def forward(self, x: torch.Tensor, s: float | torch.Tensor, *args) -> torch.Tensor:
        s = torch.as_tensor(s, dtype=torch.float32, device="cpu").reshape(-1)
        values = torch.unique(s)
        if len(values) == 1:
            return functional_call(self.theta0, self.mixed_parameters(values[0]), (x, *args))
        if len(s) != len(x):
            raise ParamgenError(f"got {len(s)} values of s for a batch of {len(x)}")
        out: torch.Tensor | None = None
        for value in values:  # one call per distinct s
            rows = (s == value).nonzero().flatten().to(x.device)
            part = functional_call(
                self.theta0,
                self.mixed_parameters(value),
                (x[rows], *(a[rows] if torch.is_tensor(a) else a for a in args)),
            )
            if out is None:
                out = part.new_empty((len(x), *part.shape[1:]))
            out[rows] = part
        return out

    def parameter_groups(self, lr: float, lambda_lr_scale: float = 100.0) -> list[dict]:
        """Optimiser groups: both weight copies at ``lr``; λ's logits at ``lambda_lr_scale``×lr."""
        weights = [p for name, p in self.named_parameters() if not name.startswith("lam.")]
        return [
            {"params": [p for p in weights if p.requires_grad], "lr": lr},
            {"params": [self.lam.logits], "lr": lr * lambda_lr_scale, "weight_decay": 0.0},
        ]

    def lambda_curve(self, points: int = 101) -> tuple[torch.Tensor, torch.Tensor]:
        """(s, λ(s)) on an even grid of u: the learned schedule (the paper's Figure 3 view)."""
        u = torch.linspace(0, 1, points)
        if self.log_scale:
            low, high = math.log(self.s_min), math.log(self.s_max)
            s = torch.exp(low + u * (high - low))
        else:
            s = self.s_min + u * (self.s_max - self.s_min)
        with torch.no_grad():
            return s, self.lam(u)

    # ---------------------------------------------------------------------------- persistence
    def to_config(self) -> dict:
        """Its constructor arguments, and the class name of the module it wraps."""
        return {
            "s_min": self.s_min,
            "s_max": self.s_max,
            "table_size": len(self.lam.logits) + 1,
            "log_scale": self.log_scale,
            "module": type(self.theta0).__name__,
        }

    @classmethod
    def from_config(cls, config: dict, module: nn.Module) -> DPI:
        """A DPI around a fresh ``module`` of the architecture that was saved (checked by class
        name when the config names it: zoo family configs do not)."""
        config = dict(config)
        saved = config.pop("module", type(module).__name__)
        if saved != type(module).__name__:
            raise ParamgenError(
                f"the saved DPI wraps a {saved}, not a {type(module).__name__}; pass a fresh "
                f"{saved}"
            )
        return cls(module, **config)
