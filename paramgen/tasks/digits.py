"""Built-in classification task: a digits backbone fine-tuned per value of one style parameter."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

from paramgen.data import Style, apply_style, load_digits16
from paramgen.data.digits import DigitImages
from paramgen.tasks.builtin import BuiltInBackbone, StyleConditioned
from paramgen.tasks.classification import ClassificationTask, Labelled

__all__ = [
    "DigitsClassification",
    "StyledDigitsClassification",
    "WIDE_DIGITS",
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


@dataclass(frozen=True)
class StyledDigitsClassification(StyleConditioned, ClassificationTask):
    """Classify the built-in digits rendered at ``style=value``; the group's task is the style."""

    style: str = "rotation"
    backbone: str = "digits-cnn"

    def examples(self, value: float | None, split: Literal["train", "test"]) -> Labelled:
        data = styled_split(self.style, float(value), split)
        return Labelled(data.images, data.labels)


@dataclass(frozen=True)
class DigitsClassification(BuiltInBackbone, ClassificationTask):
    """Classify the built-in digits as they are: an unconditional task (p-diff's setting)."""

    backbone: str = "digits-cnn"
    name: ClassVar[str] = "digits"
    condition: ClassVar[None] = None

    def examples(self, value: float | None, split: Literal["train", "test"]) -> Labelled:
        data = load_digits16(split)
        return Labelled(data.images, data.labels)


# The unconditional task on the wide MLP, for the command line (``--task
# paramgen.tasks.digits:WIDE_DIGITS``): p-diff subsets of 10⁶ numbers and more (fc2: 4.2M).
WIDE_DIGITS = DigitsClassification(backbone="digits-mlp-wide")
