"""The generator config's command-line options: choices read from the registries (paths,
condition encoders, normalisation centres) and each family's own generator defaults noted."""

from __future__ import annotations

from collections.abc import Sequence

from cli.config_options import ConfigOptions
from cli.parsing import format_values
from paramgen.families import family_names, get_family
from paramgen.generator import GeneratorConfig
from paramgen.generator.conditions import CONDITION_ENCODERS
from paramgen.generator.normalization import CENTRES
from paramgen.paths import generator_path_names, path_help

__all__ = ["family_default_notes", "generator_options"]


def _choices() -> dict[str, dict[str, str]]:
    """Per choice field of GeneratorConfig, its registry's names (and their help, if any)."""
    return {
        "path": {name: path_help(name) for name in generator_path_names()},
        "condition": dict.fromkeys(CONDITION_ENCODERS, ""),
        "centre": dict.fromkeys(CENTRES, ""),
    }


def _shown(value: object) -> str:
    return (format_values(value) or "''") if isinstance(value, tuple) else str(value)


def family_default_notes() -> dict[str, str]:
    """Per field that a family's ``generator_defaults`` set: ``"Families: dpi, mac: element."``"""
    by_field: dict[str, dict[str, list[str]]] = {}
    for family in family_names():
        for name, value in get_family(family).generator_defaults.items():
            by_field.setdefault(name, {}).setdefault(_shown(value), []).append(family)
    return {
        name: "Families: "
        + "; ".join(f"{', '.join(families)}: {value}" for value, families in values.items())
        + "."
        for name, values in by_field.items()
    }


def generator_options(
    defaults: GeneratorConfig,
    only: Sequence[str] | None = None,
    family_notes: bool = False,
) -> ConfigOptions:
    """Options for ``defaults``' fields (``only`` those, if given); with ``family_notes`` the help
    says which families default otherwise (for commands that apply ``config_for_family``)."""
    return ConfigOptions(
        defaults,
        only=None if only is None else tuple(only),
        choices=_choices(),
        notes=family_default_notes() if family_notes else {},
    )
