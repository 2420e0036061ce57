"""Built-in data that needs no download: sklearn's digits with style transforms, 2D toys, and
border circles (`paramgen.data.circles`, the zero-shot interpolation setting)."""

from paramgen.data.digits import DigitImages, load_digits16
from paramgen.data.styles import STYLE_PARAMETERS, Style, apply_style
from paramgen.data.toy2d import TOY_DISTRIBUTIONS, sample_toy

__all__ = [
    "DigitImages",
    "STYLE_PARAMETERS",
    "Style",
    "TOY_DISTRIBUTIONS",
    "apply_style",
    "load_digits16",
    "sample_toy",
]
