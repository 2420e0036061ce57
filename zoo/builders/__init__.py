"""Zoo builders: one driver (``zoo.builders.driver``) and each family's config for it."""

from zoo.builders.dpi import DpiZooConfig, build_dpi_zoo
from zoo.builders.driver import BuildPlan, RunReport, build_zoo
from zoo.builders.lora import LoraZooConfig, build_lora_zoo
from zoo.builders.lora_continuum import ContinuumConfig, build_lora_continuum
from zoo.builders.mac import MacZooConfig, build_mac_zoo
from zoo.builders.subset import SubsetZooConfig, build_subset_zoo

__all__ = [
    "BuildPlan",
    "RunReport",
    "SubsetZooConfig",
    "build_subset_zoo",
    "build_zoo",
    "ContinuumConfig",
    "DpiZooConfig",
    "LoraZooConfig",
    "MacZooConfig",
    "build_dpi_zoo",
    "build_lora_continuum",
    "build_lora_zoo",
    "build_mac_zoo",
]
