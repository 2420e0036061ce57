"""Named built-in backbones: how to build one, and how to train its frozen base weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from paramgen.errors import ParamgenError

__all__ = [
    "BackboneEntry",
    "register_backbone",
    "backbone_entry",
    "backbone_names",
    "build_backbone",
]


@dataclass(frozen=True)
class BackboneEntry:
    """A backbone the CLI can name; ``pretrain(model, seed)`` trains it in place, reproducibly."""

    name: str
    description: str
    build: Callable[[], nn.Module]
    pretrain: Callable[[nn.Module, int], None]
    lora_targets: tuple[str, ...] = field(default_factory=tuple)


_REGISTRY: dict[str, BackboneEntry] = {}


def register_backbone(entry: BackboneEntry) -> None:
    if entry.name in _REGISTRY:
        raise ValueError(f"backbone {entry.name!r} is already registered")
    _REGISTRY[entry.name] = entry


def backbone_names() -> list[str]:
    return sorted(_REGISTRY)


def backbone_entry(name: str) -> BackboneEntry:
    if name not in _REGISTRY:
        raise ParamgenError(f"unknown backbone {name!r}; choose one of {backbone_names()}")
    return _REGISTRY[name]


def build_backbone(name: str, seed: int = 0, pretrained: bool = False) -> nn.Module:
    """A fresh ``name`` initialised from ``seed`` (and trained from it if ``pretrained``)."""
    entry = backbone_entry(name)
    torch.manual_seed(seed)
    model = entry.build()
    if pretrained:
        entry.pretrain(model, seed)
    return model.eval()
