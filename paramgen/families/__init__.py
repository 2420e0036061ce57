"""Families of weights behind one protocol: ``lora``, ``dpi``, ``mac`` and ``subset`` (p-diff).

Each family is a subpackage holding its config dataclass and its ``Family`` (attach, extract,
apply, generator defaults, export formats); ``get_family(name)`` finds one by name.
"""

from paramgen.families.protocol import Family, Functional, Tensors, check_tensors, load_tensors
from paramgen.families.registry import family_names, get_family, register_family

__all__ = [
    "Family",
    "Functional",
    "Tensors",
    "check_tensors",
    "load_tensors",
    "family_names",
    "get_family",
    "register_family",
]
