"""The subset family: p-diff's name-pattern subsets of a module's own weights."""

from paramgen.families.subset.family import SubsetConfig, SubsetFamily

__all__ = ["SubsetConfig", "SubsetFamily"]
