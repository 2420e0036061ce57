"""The DPI family: deep parameter interpolation of any module, and its zoo-row form."""

from paramgen.families.dpi.family import DpiConfig, DpiFamily
from paramgen.families.dpi.wrapper import DPI, LambdaTable

__all__ = ["DPI", "DpiConfig", "DpiFamily", "LambdaTable"]
