"""Built-in classification task: a digits backbone fine-tuned per value of one style parameter."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

from torch import nn

from paramgen.backbones import backbone_entry, build_backbone
from paramgen.data import STYLE_PARAMETERS, Style, apply_style, load_digits16
from paramgen.data.digits import DigitImages
from paramgen.errors import ParamgenError
from paramgen.tasks.classification import ClassificationTask, Labelled

__all__ = [
    "DigitsClassification",
    "StyledDigitsClassification",
    "check_style",
    "styled",
    "styled_split",
]


def styled(data: DigitImages, style: str, value: float) -> DigitImages:
    """``data`` rendered at ``style=value`` (e.g. rotated by 30°)."""
    return DigitImages(apply_style(data.images, Style.of(**{style: value})), data.labels)


@lru_cache(maxsize=64)
def styled_split(style: str, value: float, split: str) -> DigitImages:
    """The built-in ``split`` digits at ``style=value``, rendered once (the last 64 are kept)."""
    return styled(load_digits16(split), style, value)


def check_style(style: str) -> None:
    """Refuse a name that is not a style parameter, listing the known ones."""
    if style not in STYLE_PARAMETERS:
        raise ParamgenError(f"unknown style {style!r}; choose one of {list(STYLE_PARAMETERS)}")


@dataclass(frozen=True)
class StyledDigitsClassification(ClassificationTask):
    """Classify the built-in digits rendered at ``style=value``; the group's task is the style."""

    style: str = "rotation"
    backbone: str = "digits-cnn"

    def __post_init__(self) -> None:
        check_style(self.style)
        backbone_entry(self.backbone)  # raises on an unknown name, listing the known ones

    @property
    def name(self) -> str:
        return self.style

    @property
    def condition(self) -> str:
        return self.style

    @property
    def backbone_name(self) -> str:
        return self.backbone

    def build_backbone(self, seed: int, pretrained: bool) -> nn.Module:
        return build_backbone(self.backbone, seed=seed, pretrained=pretrained)

    def examples(self, value: float | None, split: Literal["train", "test"]) -> Labelled:
        data = styled_split(self.style, float(value), split)
        return Labelled(data.images, data.labels)


@dataclass(frozen=True)
class DigitsClassification(ClassificationTask):
    """Classify the built-in digits as they are: an unconditional task (p-diff's setting)."""

    backbone: str = "digits-cnn"
    name: ClassVar[str] = "digits"
    condition: ClassVar[None] = None

    def __post_init__(self) -> None:
        backbone_entry(self.backbone)

    @property
    def backbone_name(self) -> str:
        return self.backbone

    def build_backbone(self, seed: int, pretrained: bool) -> nn.Module:
        return build_backbone(self.backbone, seed=seed, pretrained=pretrained)

    def examples(self, value: float | None, split: Literal["train", "test"]) -> Labelled:
        data = load_digits16(split)
        return Labelled(data.images, data.labels)
