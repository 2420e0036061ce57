"""The DPI family: a module conditioned on a scalar through its weights (θ0, θ1 and λ's logits)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from paramgen.errors import ParamgenError
from paramgen.families.dpi.wrapper import DPI
from paramgen.families.protocol import Family, Tensors, load_tensors
from paramgen.persistence import tagged, untagged

__all__ = ["DpiConfig", "DpiFamily"]


@dataclass(frozen=True)
class DpiConfig:
    """How the base is wrapped: the λ table and the range of s it is indexed by."""

    table_size: int = field(
        default=64, metadata={"help": "Entries of the λ table (the paper uses 1,000)."}
    )
    s_min: float = field(default=0.0, metadata={"help": "s where λ = 0 (θ0 alone)."})
    s_max: float = field(default=1.0, metadata={"help": "s where λ = 1 (θ1 alone)."})
    log_scale: bool = field(default=False, metadata={"help": "Index the table by log s."})

    def __post_init__(self) -> None:
        if self.table_size < 2:
            raise ParamgenError(f"table_size must be >= 2 (λ(0) and λ(1)), got {self.table_size}")


class DpiFamily(Family):
    """Rows are a DPI's learnable tensors: ``theta0.*``, ``theta1.*`` (every learnable tensor of
    the base, twice) and ``lam.logits``. Buffers, if any, come from the base."""

    name = "dpi"
    config_type = DpiConfig
    # Rows are fine-tunes of one base: per-tensor centring leaves the base in every row and the
    # conv autoencoder loses the small differences between rows (bench/dpi_zoo.py).
    generator_defaults = {"centre": "element", "ae_channels": ()}

    def config_to_dict(self, config: DpiConfig) -> dict:
        return tagged(DPI, asdict(config))

    def config_from_dict(self, values: Mapping) -> DpiConfig:
        """Also reads groups built before the family protocol, which recorded the wrapped
        module's class name (``module``) too."""
        values = untagged(DPI, values, "DPI family config")
        values.pop("module", None)
        return super().config_from_dict(values)

    def attach(
        self, base: nn.Module, config: DpiConfig, start: Mapping[str, torch.Tensor] | None = None
    ) -> DPI:
        """θ0 = θ1 = a copy of ``base``, λ's logits drawn from the global RNG (or ``start``)."""
        dpi = DPI.from_config(asdict(config), copy.deepcopy(base))
        if start is not None:
            what = f"a DPI row (table size {config.table_size})"
            load_tensors(dict(dpi.named_parameters()), start, what)
        return dpi

    def extract(self, model: nn.Module, config: DpiConfig) -> Tensors:
        return {name: p.detach().clone() for name, p in model.named_parameters()}
