"""What the built-in tasks share: a registered backbone, named by a ``backbone`` field, and for
the style tasks a ``style`` field that names the task and its condition."""

from __future__ import annotations

from torch import nn

from paramgen.backbones import backbone_entry, build_backbone
from paramgen.data import STYLE_PARAMETERS
from paramgen.errors import ParamgenError

__all__ = ["BuiltInBackbone", "StyleConditioned"]


class BuiltInBackbone:
    """Mixin for a task on the registered backbone named by its ``backbone`` field."""

    backbone: str

    def __post_init__(self) -> None:
        backbone_entry(self.backbone)  # raises on an unknown name, listing the known ones

    @property
    def backbone_name(self) -> str:
        """The registered backbone's name: base weights are stored under it."""
        return self.backbone

    def build_backbone(self, seed: int, pretrained: bool) -> nn.Module:
        """The registered backbone from ``seed`` (pretrained by its recipe if asked)."""
        return build_backbone(self.backbone, seed=seed, pretrained=pretrained)


class StyleConditioned(BuiltInBackbone):
    """Mixin for a task per value of one style parameter: the ``style`` field is both the task's
    name (the group is ``family/backbone/style``) and its condition."""

    style: str

    def __post_init__(self) -> None:
        if self.style not in STYLE_PARAMETERS:
            raise ParamgenError(
                f"unknown style {self.style!r}; choose one of {list(STYLE_PARAMETERS)}"
            )
        super().__post_init__()

    @property
    def name(self) -> str:
        """The style parameter: the group is ``family/backbone/style``."""
        return self.style

    @property
    def condition(self) -> str:
        """The style parameter: one run per style value."""
        return self.style
