"""Zoo builders: train checkpoints of a family on a built-in backbone and append them to a zoo."""

from zoo.builders.dpi import DpiZooConfig, build_dpi_zoo
from zoo.builders.lora import LoraZooConfig, build_lora_zoo
from zoo.builders.lora_continuum import ContinuumConfig, build_lora_continuum
from zoo.builders.mac import MacZooConfig, build_mac_zoo

__all__ = [
    "ContinuumConfig",
    "DpiZooConfig",
    "LoraZooConfig",
    "MacZooConfig",
    "build_dpi_zoo",
    "build_lora_continuum",
    "build_lora_zoo",
    "build_mac_zoo",
]
