"""The subset family (p-diff): a name-pattern subset of a module's own parameters and buffers.

p-diff generates the last normalisation layers of a trained network (ResNet-18's
``layer4.1.bn1/bn2``), or a whole small net. A subset row holds exactly the selected tensors as
trained — parameters and buffers such as BatchNorm running statistics — and ``apply`` puts them
back into a copy of the base with a strict check of names and shapes. Integer buffers (BatchNorm's
``num_batches_tracked`` step counter) are bookkeeping, not weights: a pattern matching one leaves
it out, and it keeps the base's value.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call

from paramgen.errors import ParamgenError
from paramgen.families.protocol import Family, Functional, Tensors, load_tensors

__all__ = ["SubsetConfig", "SubsetFamily"]


@dataclass(frozen=True)
class SubsetConfig:
    """Which tensors: shell-style patterns over ``state_dict`` names (``fc2.*``, ``*.bn2.*``)."""

    patterns: tuple[str, ...] = field(
        metadata={"help": "Name patterns (fnmatch) of the parameters and buffers to keep."}
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "patterns", tuple(self.patterns))
        if not self.patterns or not all(isinstance(p, str) and p for p in self.patterns):
            raise ParamgenError(
                f"subset patterns must be non-empty strings such as 'fc2.*', got {self.patterns}"
            )

    def selects(self, name: str) -> bool:
        """Whether a state-dict name matches one of the patterns."""
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)

    def pick(self, state: Mapping[str, torch.Tensor]) -> Tensors:
        """The floating-point tensors of ``state`` whose names match, in ``state``'s order.

        ``state`` is a module's state dict or a checkpoint file's tensors; integer buffers are
        left out (module docstring). May be empty: callers say what it was picked from.
        """
        return {
            name: tensor
            for name, tensor in state.items()
            if self.selects(name) and tensor.is_floating_point()
        }

    def selected(self, module: nn.Module) -> Tensors:
        """The module's selected state (parameters and buffers), live tensors in state order."""
        state = module.state_dict(keep_vars=True)
        chosen = self.pick(state)
        if not chosen:
            raise ParamgenError(
                f"subset patterns {list(self.patterns)} match no floating-point parameter or "
                f"buffer of {type(module).__name__}; it has {list(state)[:12]}"
            )
        return chosen


class SubsetFamily(Family):
    """Rows are the selected tensors themselves; the rest of the module stays the base's."""

    name = "subset"
    config_type = SubsetConfig

    def config_to_dict(self, config: SubsetConfig) -> dict:
        return {"patterns": list(config.patterns)}

    def attach(
        self, base: nn.Module, config: SubsetConfig, start: Mapping[str, torch.Tensor] | None = None
    ) -> nn.Module:
        """A copy of ``base`` in which only the selected parameters train (or hold ``start``)."""
        model = copy.deepcopy(base)
        chosen = config.selected(model)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name in chosen)
        if start is not None:
            load_tensors(chosen, start, f"a subset row of {type(base).__name__}")
        return model

    def extract(self, model: nn.Module, config: SubsetConfig) -> Tensors:
        return {name: t.detach().clone() for name, t in config.selected(model).items()}

    def functional(self, base: nn.Module, config: SubsetConfig) -> Functional:
        """f(tensors, x): ``base`` run with the selected tensors replaced (vmap-able)."""
        state = {name: tensor.detach() for name, tensor in base.state_dict().items()}

        def forward(tensors: Mapping[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
            return functional_call(base, {**state, **tensors}, (inputs,))

        return forward
