"""Built-in data that needs no download."""

from paramgen.data.digits import DigitImages, load_digits16
from paramgen.data.styles import rotate

__all__ = ["DigitImages", "load_digits16", "rotate"]
