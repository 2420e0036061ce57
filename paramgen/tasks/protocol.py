"""The Task protocol: what a zoo's weights are trained for and judged by.

A task names its backbone (and builds it), gives the training data for a condition value, the
loss of one minibatch and the metric of a working model — with a batched form (many models at once
through ``torch.func.vmap``) where it has one. The built-in digits tasks are instances; a user's
task is a subclass, named on the command line as ``package.module:object``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from paramgen.families.protocol import Functional
from paramgen.imports import import_string_of

__all__ = ["BaseLoader", "Task"]

# load(name, seed, build) → the frozen base stored under ``name``; build(pretrained) makes the
# model: the architecture to load stored weights into (False), or the base to store the first time
# (True: trained, or loaded from the user's checkpoint, from ``seed``).
BaseLoader = Callable[[str, int, Callable[[bool], nn.Module]], nn.Module]


class Task(ABC):
    """Subclasses set the class attributes (or dataclass fields) and implement the methods.

    ``condition`` is the name of the value a run is trained for (``None``: an unconditional task,
    one run, rows with no condition — p-diff). ``metric`` names the figure ``score`` returns.
    """

    name: str
    condition: str | None
    metric: str
    higher_is_better: ClassVar[bool] = True
    backbone_name: str
    # True where ``batched_loss`` / ``batched_scores`` are implemented.
    batched: ClassVar[bool] = False

    @abstractmethod
    def build_backbone(self, seed: int, pretrained: bool) -> nn.Module:
        """The base model: pretrained from ``seed`` (or loaded from the user's own checkpoint)
        when ``pretrained``, else the bare architecture that stored base weights load into."""

    def bind(self, load_base: BaseLoader, seed: int) -> nn.Module:
        """The frozen base through ``load_base`` (so its weights are stored with the zoo, with
        their sha256); a task that needs more frozen models (a feature extractor) loads them here
        too."""
        return load_base(
            self.backbone_name, seed, lambda pretrained: self.build_backbone(seed, pretrained)
        )

    @abstractmethod
    def training_data(self, value: float | None) -> Any:
        """What ``loss`` trains on at condition ``value`` (``None`` for an unconditional task)."""

    @abstractmethod
    def loss(
        self, model: nn.Module, data: Any, batch_size: int, generator: torch.Generator
    ) -> torch.Tensor:
        """The loss of one random minibatch (every random draw from ``generator``)."""

    @abstractmethod
    def score(self, model: nn.Module, value: float | None) -> float:
        """``metric`` of a working model on held-out data of condition ``value``."""

    def batched_loss(
        self,
        forward: Functional,
        stacked: Mapping[str, torch.Tensor],
        datas: Sequence[Any],
        batch_size: int,
        generators: Sequence[torch.Generator],
    ) -> torch.Tensor:
        """Σ over models m of model m's minibatch loss on ``datas[m]`` (each from its own
        generator); ``forward`` is the family's functional form, vmapped by the task."""
        raise NotImplementedError(f"task {self.name!r} has no batched loss")

    def batched_scores(
        self, forward: Functional, stacked: Mapping[str, torch.Tensor], value: float | None
    ) -> torch.Tensor:
        """[M] ``metric`` of the M stacked models at condition ``value``."""
        raise NotImplementedError(f"task {self.name!r} has no batched scores")

    def batched_wrong_examples(
        self, forward: Functional, stacked: Mapping[str, torch.Tensor], value: float | None
    ) -> torch.Tensor | None:
        """[M, E] bool ``wrong_examples`` of the M stacked models (None: no such notion)."""
        return None

    def batched_assessment(
        self, forward: Functional, stacked: Mapping[str, torch.Tensor], value: float | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``batched_scores`` and ``batched_wrong_examples`` together (a task that gets both
        from one forward pass overrides this)."""
        return (
            self.batched_scores(forward, stacked, value),
            self.batched_wrong_examples(forward, stacked, value),
        )

    def wrong_examples(self, model: nn.Module, value: float | None) -> torch.Tensor | None:
        """[E] bool: which held-out examples the model gets wrong (for error-set IoU), or None
        where the metric has no notion of a wrong example."""
        return None

    def spec(self) -> dict:
        """How to find this task again: ``{"target": "module:Class", "arguments": {...}}`` for a
        dataclass task, ``{}`` where it cannot be described (pass the task again to evaluate)."""
        if not is_dataclass(self):
            return {}
        return {"target": import_string_of(type(self)), "arguments": asdict(self)}
