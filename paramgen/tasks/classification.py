"""Classification tasks: cross-entropy to train, top-1 accuracy to judge, in batched form too.

Subclass :class:`ClassificationTask` for your own classifier: give the backbone and the labelled
examples of a condition value; the loss, the metric, the batched forms (many adapters at once
through ``vmap``) and the wrong-example sets for the memorisation study come with it.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vmap

from paramgen.errors import ParamgenError
from paramgen.families.protocol import Functional
from paramgen.tasks.protocol import Task
from paramgen.training import classification_loss

__all__ = ["ClassificationTask", "Labelled"]


@dataclass(frozen=True)
class Labelled:
    """``inputs`` [N, ...] and their class ``labels`` [N] (int64)."""

    inputs: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.labels) or len(self.labels) == 0:
            raise ParamgenError(
                f"labelled examples need as many labels as inputs, at least one: got "
                f"{len(self.inputs)} inputs and {len(self.labels)} labels"
            )

    def __len__(self) -> int:
        return len(self.labels)


class ClassificationTask(Task):
    """A classifier trained per condition value. Implement ``build_backbone`` and ``examples``."""

    metric: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True
    batched: ClassVar[bool] = True
    score_chunk: ClassVar[int] = 64  # models per vmapped forward when scoring

    @abstractmethod
    def examples(self, value: float | None, split: Literal["train", "test"]) -> Labelled:
        """Labelled examples of condition ``value``: ``train`` to fit, ``test`` to score."""

    def training_data(self, value: float | None) -> Labelled:
        return self.examples(value, "train")

    def loss(
        self, model: nn.Module, data: Labelled, batch_size: int, generator: torch.Generator
    ) -> torch.Tensor:
        return classification_loss(model, data.inputs, data.labels, batch_size, generator)

    @torch.no_grad()
    def predictions(self, model: nn.Module, value: float | None) -> torch.Tensor:
        """[E] the model's class for each test example of ``value``."""
        model.eval()
        return model(self.examples(value, "test").inputs).argmax(dim=1)

    def score(self, model: nn.Module, value: float | None) -> float:
        test = self.examples(value, "test")
        return (self.predictions(model, value) == test.labels).float().mean().item()

    def wrong_examples(self, model: nn.Module, value: float | None) -> torch.Tensor:
        return self.predictions(model, value) != self.examples(value, "test").labels

    def batched_loss(
        self,
        forward: Functional,
        stacked: Mapping[str, torch.Tensor],
        datas: Sequence[Labelled],
        batch_size: int,
        generators: Sequence[torch.Generator],
    ) -> torch.Tensor:
        inputs = torch.stack([d.inputs for d in datas])  # [M, N, ...]
        labels = torch.stack([d.labels for d in datas])  # [M, N]
        batch = torch.stack(
            [torch.randint(inputs.shape[1], (batch_size,), generator=g) for g in generators]
        )
        rows = torch.arange(len(datas))[:, None]
        logits = vmap(forward)(stacked, inputs[rows, batch])  # [M, B, classes]
        losses = F.cross_entropy(
            logits.flatten(0, 1), labels[rows, batch].flatten(), reduction="none"
        )
        # Summing the per-model means gives each model the gradient of its own mean loss.
        return losses.view(len(datas), batch_size).mean(dim=1).sum()

    @torch.no_grad()
    def batched_predictions(
        self, forward: Functional, stacked: Mapping[str, torch.Tensor], value: float | None
    ) -> torch.Tensor:
        """[M, E] each stacked model's class for each test example of ``value``."""
        inputs = self.examples(value, "test").inputs
        count = len(next(iter(stacked.values())))
        parts = []
        for start in range(0, count, self.score_chunk):
            part = {name: t[start : start + self.score_chunk] for name, t in stacked.items()}
            parts.append(vmap(forward, in_dims=(0, None))(part, inputs).argmax(-1))
        return torch.cat(parts)

    def batched_wrong_examples(
        self, forward: Functional, stacked: Mapping[str, torch.Tensor], value: float | None
    ) -> torch.Tensor:
        labels = self.examples(value, "test").labels
        return self.batched_predictions(forward, stacked, value) != labels

    def batched_scores(
        self, forward: Functional, stacked: Mapping[str, torch.Tensor], value: float | None
    ) -> torch.Tensor:
        return self.batched_assessment(forward, stacked, value)[0]

    def batched_assessment(
        self, forward: Functional, stacked: Mapping[str, torch.Tensor], value: float | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Accuracy and wrong examples from one pass: accuracy is 1 − the wrong fraction."""
        wrong = self.batched_wrong_examples(forward, stacked, value)
        return 1 - wrong.float().mean(-1), wrong
