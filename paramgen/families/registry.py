"""Families by name: the built-in ones and any a user registers, all through the same table.

Built-ins are registered as import strings and loaded on first use, so that naming a family does
not import peft (seconds) unless the LoRA family is the one asked for.
"""

from __future__ import annotations

from paramgen.errors import ParamgenError
from paramgen.families.protocol import Family
from paramgen.imports import load_object

__all__ = ["family_names", "get_family", "register_family"]

_REGISTRY: dict[str, Family | str] = {
    "lora": "paramgen.families.lora.family:LoraFamily",
    "dpi": "paramgen.families.dpi.family:DpiFamily",
    "mac": "paramgen.families.mac.family:MacFamily",
    "subset": "paramgen.families.subset.family:SubsetFamily",
}


def register_family(family: Family | str, name: str | None = None) -> None:
    """Add a family (an instance, or an import string of a Family class or instance).

    ``name`` defaults to ``family.name``; a name is registered once.
    """
    if name is None:
        if isinstance(family, str):
            raise ParamgenError("register_family needs a name with an import string")
        name = family.name
    if name in _REGISTRY:
        raise ParamgenError(f"family {name!r} is already registered")
    _REGISTRY[name] = family


def family_names() -> list[str]:
    """The registered families' names, sorted."""
    return sorted(_REGISTRY)


def get_family(name: str) -> Family:
    """The family called ``name`` (a one-line error listing the known ones otherwise)."""
    if name not in _REGISTRY:
        raise ParamgenError(
            f"unknown family {name!r}; known: {family_names()} (register a user family with "
            "paramgen.families.register_family)"
        )
    entry = _REGISTRY[name]
    if isinstance(entry, str):
        loaded = load_object(entry)
        entry = loaded() if isinstance(loaded, type) else loaded
        if not isinstance(entry, Family):
            raise ParamgenError(f"{_REGISTRY[name]!r} is not a paramgen Family")
        _REGISTRY[name] = entry
    return entry
