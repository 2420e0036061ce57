"""The MAC family: coefficient nets that bend a frozen flow model's sampling path (Lee et al.).

The base a MAC net attaches to is the *velocity* model; the working model is a
:class:`MacSampler` — velocity (frozen) + coefficient net — that turns start noise into images in
a given number of γ-space Euler steps. Rows hold the net's parameters; its filter taps follow from
its config.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from paramgen.families.mac.nets import MacConvNet
from paramgen.families.mac.training import euler_images, mac_images
from paramgen.families.protocol import Family, Tensors, load_tensors
from paramgen.persistence import tagged, untagged

__all__ = ["MacFamily", "MacNetConfig", "MacSampler"]


@dataclass(frozen=True)
class MacNetConfig:
    """The coefficient net (:class:`MacConvNet`): its size and the MAC path it parameterises."""

    channels: int = field(default=1, metadata={"help": "Image channels."})
    basis_size: int = field(default=5, metadata={"help": "Basis functions M per dimension."})
    scale: float = field(default=0.05, metadata={"help": "Weight bound s (|w| <= s)."})
    exponent: float = field(default=7.0, metadata={"help": "Basis exponent q."})
    hidden: int = field(default=16, metadata={"help": "Width of the conv net."})
    depth: int = field(default=2, metadata={"help": "Hidden conv layers."})
    sigma: float = field(default=2.0, metadata={"help": "Low-pass filter std (px)."})
    kernel: int = field(default=9, metadata={"help": "Low-pass filter taps (odd)."})
    renormalise: bool = field(default=True, metadata={"help": "Min-max rescale each map."})


class MacSampler(nn.Module):
    """``forward(noise, nfe)`` → images in [0, 1]: ``nfe`` γ-space Euler steps of the frozen
    ``velocity`` along the MAC path that ``net`` computes from the noise (plain Euler on the
    linear path when ``net`` is None: MAC's w = 0)."""

    def __init__(self, net: MacConvNet | None, velocity: nn.Module) -> None:
        super().__init__()
        self.net = net  # registered first: its parameters are the model's trainable ones
        self.velocity = velocity.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> MacSampler:
        """Train the net only: the velocity model stays frozen in eval mode."""
        if self.net is not None:
            self.net.train(mode)
        self.training = mode
        return self

    def forward(self, noise: Tensor, nfe: int, clamp: bool = True) -> Tensor:
        """[N, C, H, W] noise → images in [0, 1] after ``nfe`` steps (clamped unless
        ``clamp=False``)."""
        if self.net is None:
            return euler_images(self.velocity, noise, nfe)
        return mac_images(self.net, self.velocity, noise, nfe, clamp=clamp)


class MacFamily(Family):
    """Rows are a :class:`MacConvNet`'s parameters; the base is the flow (velocity) model."""

    name = "mac"
    config_type = MacNetConfig
    # Rows are fine-tunes of one anchor net (bench/mac_zoo.py): as for DPI.
    generator_defaults = {"centre": "element", "ae_channels": ()}

    def config_to_dict(self, config: MacNetConfig) -> dict:
        return tagged(MacConvNet, asdict(config))

    def config_from_dict(self, values: Mapping) -> MacNetConfig:
        return super().config_from_dict(untagged(MacConvNet, values, "MAC family config"))

    def attach(
        self, base: nn.Module, config: MacNetConfig, start: Mapping[str, torch.Tensor] | None = None
    ) -> MacSampler:
        """A new net (drawn from the global RNG, or ``start``) on a frozen copy of ``base``."""
        net = MacConvNet.from_config(asdict(config))
        if start is not None:
            load_tensors(dict(net.named_parameters()), start, "a MAC row of this coefficient net")
        return MacSampler(net, copy.deepcopy(base))

    def extract(self, model: nn.Module, config: MacNetConfig) -> Tensors:
        return {name: p.detach().clone() for name, p in model.net.named_parameters()}

    def neutral(self, base: nn.Module, config: MacNetConfig) -> MacSampler:
        return MacSampler(None, copy.deepcopy(base))
