"""The Family protocol: one kind of weights, how it attaches to any module and comes back out.

A family turns a base ``nn.Module`` into a trainable model carrying the family's weights
(``attach``), reads those weights out as named tensors (``extract``: a zoo row), and puts stored
tensors back (``apply``: a working model). Everything else in paramgen — the build driver, the
generator's defaults, evaluation, export — asks the family instead of comparing its name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, fields, is_dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import torch
from torch import nn

from paramgen.errors import ParamgenError

__all__ = ["Family", "Functional", "Tensors", "check_tensors", "load_tensors"]

Tensors = dict[str, torch.Tensor]
# f(tensors, inputs) → outputs: the base module run with one row's tensors, pure enough for vmap.
Functional = Callable[[Mapping[str, torch.Tensor], torch.Tensor], torch.Tensor]


class Family(ABC):
    """A kind of weights. Subclasses set ``name`` and ``config_type`` and implement attach/extract.

    ``config_type`` is a dataclass (help text in field metadata): what the family's weights *are*
    on a given base (rank and targets, table size, name patterns, …). It is stored with every zoo
    group as JSON (``config_to_dict``) and read back with ``config_from_dict``.
    """

    name: ClassVar[str]
    config_type: ClassVar[type]
    # GeneratorConfig fields that suit this family's rows better than the generator's defaults.
    generator_defaults: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    # Formats ``paramgen generate`` / ``zoo export`` may write a row in, besides zoo rows.
    export_formats: ClassVar[tuple[str, ...]] = ("safetensors",)

    # ---------------------------------------------------------------------------- config
    def config_to_dict(self, config: Any) -> dict:
        """The JSON-plain form stored as a group's ``family_config``."""
        return asdict(config)

    def config_from_dict(self, values: Mapping) -> Any:
        """A group's stored ``family_config`` → the config object (unknown keys are an error)."""
        known = {f.name for f in fields(self.config_type)} if is_dataclass(self.config_type) else ()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ParamgenError(
                f"{self.name} family config has unknown keys {unknown}; it takes {sorted(known)}"
            )
        return self.config_type(**values)

    # ------------------------------------------------------------------------- weights
    @abstractmethod
    def attach(self, base: nn.Module, config: Any, start: Mapping[str, torch.Tensor] | None = None):
        """A trainable model: a copy of ``base`` carrying this family's weights, initialised from
        ``start`` (a row's tensors, checked by name and shape) or freshly from the global RNG.
        ``base`` itself is never modified."""

    @abstractmethod
    def extract(self, model: nn.Module, config: Any) -> Tensors:
        """The family's tensors of a model ``attach`` made with ``config``: detached copies, in a
        stable order (a zoo row's tensors)."""

    def apply(self, base: nn.Module, config: Any, tensors: Mapping[str, torch.Tensor]) -> nn.Module:
        """A working model (eval mode) running stored ``tensors`` on ``base``."""
        return self.attach(base, config, start=tensors).eval()

    def neutral(self, base: nn.Module, config: Any) -> nn.Module | None:
        """The model without the family's weights (the "no adapter" baseline), or None."""
        return base.eval()

    def functional(self, base: nn.Module, config: Any) -> Functional | None:
        """f(tensors, inputs) for batched training and scoring with ``torch.func.vmap`` (None:
        this family has no such form and is trained and scored one model at a time)."""
        return None

    def interpolate(
        self, config: Any, rows: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]
    ) -> tuple[Tensors, Any]:
        """Σ w_i·rows_i and the config it runs under (the interpolation baseline). Plain weight
        mixing here; a family whose tensors are not linear in their effect overrides it."""
        mixed = {
            name: sum(w * row[name] for w, row in zip(weights, rows, strict=True))
            for name in rows[0]
        }
        return mixed, config


def check_tensors(
    given: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], what: str
) -> None:
    """Refuse ``given`` unless it has exactly ``expected``'s names and shapes; name the fix."""
    missing, unexpected = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
    if missing or unexpected:
        raise ParamgenError(
            f"{what}: missing tensors {missing[:8]}, unexpected {unexpected[:8]}; these weights "
            "belong to another backbone or family config"
        )
    for name, tensor in expected.items():
        if tuple(given[name].shape) != tuple(tensor.shape):
            raise ParamgenError(
                f"{what}: tensor {name!r} has shape {tuple(given[name].shape)}, expected "
                f"{tuple(tensor.shape)}; these weights belong to another backbone or config"
            )
        if not torch.isfinite(given[name]).all():
            raise ParamgenError(f"{what}: tensor {name!r} holds NaN or Inf; drop that checkpoint")


def load_tensors(
    live: Mapping[str, torch.Tensor], start: Mapping[str, torch.Tensor], what: str
) -> None:
    """Copy a row's ``start`` tensors into a model's ``live`` ones, checked as ``check_tensors``."""
    check_tensors(start, live, what)
    with torch.no_grad():
        for name, tensor in live.items():
            tensor.copy_(start[name])
