"""NoiseAwareClassifier: p(c | x_t, t) along a named path, temperature-calibrated, saveable."""

from __future__ import annotations

import torch
from torch import nn

from paramgen.classifiers.nets import CLASSIFIER_NETS
from paramgen.errors import ParamgenError
from paramgen.persistence import Pretrained

__all__ = ["NoiseAwareClassifier"]


class NoiseAwareClassifier(Pretrained, nn.Module):
    """A time-conditioned net (``net``: a :data:`CLASSIFIER_NETS` kind) whose logits are divided
    by a calibrated ``temperature``; ``path`` names the path its inputs were noised along, so a
    sampler on another path can refuse it; ``class_names`` say what each logit means;
    ``fitted_on`` identifies the space its inputs live in where that matters (a generator's
    latent space, :func:`paramgen.generator.latent_guidance.latent_space_id`; "" if none)."""

    config_keys = ("net", "input_shape", "class_names", "width", "path", "fitted_on")
    optional_keys = frozenset({"fitted_on"})

    def __init__(
        self,
        net: str,
        input_shape: tuple[int, ...] | list[int],
        class_names: tuple[str, ...] | list[str],
        width: int,
        path: str,
        fitted_on: str = "",
    ) -> None:
        super().__init__()
        if net not in CLASSIFIER_NETS:
            raise ParamgenError(
                f"unknown classifier net {net!r}; expected one of {list(CLASSIFIER_NETS)}"
            )
        if len(class_names) < 2:
            raise ParamgenError(f"a classifier needs at least 2 classes, got {list(class_names)}")
        self.net_kind, self.path = net, path
        self.input_shape = tuple(int(n) for n in input_shape)
        self.class_names = tuple(str(name) for name in class_names)
        self.width = int(width)
        self.fitted_on = str(fitted_on)
        self.net = CLASSIFIER_NETS[net](self.input_shape, len(self.class_names), self.width)
        self.register_buffer("temperature", torch.ones(()))

    def to_config(self) -> dict:
        return {
            "net": self.net_kind,
            "input_shape": list(self.input_shape),
            "class_names": list(self.class_names),
            "width": self.width,
            "path": self.path,
            "fitted_on": self.fitted_on,
        }

    def logits(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits [N, classes] (what training and calibration fit)."""
        return self.net(x, t)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Calibrated logits [N, classes] of x_t [N, *input_shape] at model time t [N]."""
        return self.logits(x, t) / self.temperature
