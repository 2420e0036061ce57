"""The MAC family: coefficient nets, their training through the γ-space sampler, and samplers."""

from paramgen.families.mac.family import MacFamily, MacNetConfig, MacSampler
from paramgen.families.mac.nets import MacCoefficientNet, MacConvNet, MacMLP, gaussian_kernel

__all__ = [
    "MacCoefficientNet",
    "MacConvNet",
    "MacFamily",
    "MacMLP",
    "MacNetConfig",
    "MacSampler",
    "gaussian_kernel",
]
