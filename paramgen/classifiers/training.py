"""Train a noise-aware classifier along a path, then calibrate its temperature on held-out rows.

Training is cross-entropy on x_t = the path's mix of a minibatch with fresh noise at a random
time (``path.sample_training``, the same draw the generator trains on), so the classifier sees
exactly the inputs a sampler on that path shows it. Calibration: a held-out share of the rows,
noised ``CALIBRATION_DRAWS`` times at random times, and the temperature T that minimises their
cross-entropy of logits/T (Guo et al. 2017); guidance weights then mean what they say.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from paramgen.classifiers.nets import CLASSIFIER_NETS
from paramgen.classifiers.noise_aware import NoiseAwareClassifier
from paramgen.errors import ParamgenError
from paramgen.paths import Path
from paramgen.training import optimise

__all__ = [
    "CALIBRATION_DRAWS",
    "ClassifierFit",
    "calibrate_temperature",
    "train_noise_aware_classifier",
]

CALIBRATION_DRAWS = 8  # noised copies of each held-out row


@dataclass(frozen=True)
class ClassifierFit:
    """A trained classifier and how it does on the held-out rows, noised along its path."""

    classifier: NoiseAwareClassifier
    temperature: float
    heldout_rows: int
    heldout_accuracy: float
    heldout_nll_uncalibrated: float
    heldout_nll: float


def _checked(data: Tensor, labels: Tensor, classes: int) -> Tensor:
    if data.ndim < 2 or labels.shape != (len(data),):
        raise ParamgenError(
            f"data must be [N, ...] with one label per row, got data {tuple(data.shape)} and "
            f"labels {tuple(labels.shape)}"
        )
    if not torch.isfinite(data).all():
        raise ParamgenError("data holds NaN or infinite values; clean the rows before training")
    labels = labels.long()
    if labels.min() < 0 or labels.max() >= classes:
        raise ParamgenError(f"labels must lie in [0, {classes}), got {labels.min()}…{labels.max()}")
    missing = sorted(set(range(classes)) - set(labels.tolist()))
    if missing:
        raise ParamgenError(f"classes {missing} have no rows; every class needs training rows")
    return labels


def _noised(path: Path, data: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    noise = torch.randn(data.shape, generator=generator, dtype=data.dtype)
    drawn = path.sample_training(data, noise, generator)
    return drawn.x_t, drawn.t


def calibrate_temperature(logits: Tensor, labels: Tensor) -> float:
    """The T > 0 minimising the cross-entropy of ``logits`` [N, C] / T against ``labels`` [N]."""
    log_t = torch.zeros((), requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimiser.step(closure)
    return log_t.exp().item()


def train_noise_aware_classifier(
    path: Path,
    data: Tensor,
    labels: Tensor,
    *,
    class_names: Sequence[str] | None = None,
    net: str = "mlp",
    width: int | None = None,
    steps: int = 2000,
    batch_size: int = 128,
    lr: float = 1e-3,
    heldout: float = 0.2,
    seed: int = 0,
    on_step: Callable[[int, torch.nn.Module], None] | None = None,
) -> ClassifierFit:
    """Fit p(c | x_t, t) on ``data`` [N, ...] with integer ``labels`` [N] along ``path``.

    ``net``: a :data:`CLASSIFIER_NETS` kind (``mlp`` for vectors, ``conv`` for images), ``width``
    its width (None: the kind's default). A random ``heldout`` share of the rows (at least one) is
    kept out of training and calibrates the temperature; ``heldout=0`` trains on every row and
    leaves T = 1. ``class_names`` default to "0", "1", ….
    """
    classes = len(class_names) if class_names is not None else int(labels.max()) + 1
    labels = _checked(data, labels, max(classes, 2))
    if net not in CLASSIFIER_NETS:
        raise ParamgenError(
            f"unknown classifier net {net!r}; expected one of {list(CLASSIFIER_NETS)}"
        )
    if not 0 <= heldout < 1:
        raise ParamgenError(f"heldout must be in [0, 1), got {heldout}")
    names = tuple(class_names) if class_names is not None else tuple(str(c) for c in range(classes))
    data = data.float()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    kept = max(1, round(heldout * len(data))) if heldout > 0 else 0
    held, train = order[:kept], order[kept:]
    torch.manual_seed(seed)
    classifier = NoiseAwareClassifier(
        net, tuple(data.shape[1:]), names, width or CLASSIFIER_NETS[net].default_width, path.name
    )

    def loss(generator: torch.Generator) -> Tensor:
        batch = train[torch.randint(len(train), (batch_size,), generator=generator)]
        x_t, t = _noised(path, data[batch], generator)
        return F.cross_entropy(classifier.logits(x_t, t), labels[batch])

    optimise(classifier, loss, steps=steps, lr=lr, seed=seed, on_step=on_step)
    if not kept:
        return ClassifierFit(classifier, 1.0, 0, float("nan"), float("nan"), float("nan"))
    rows = held.repeat(CALIBRATION_DRAWS)
    with torch.no_grad():
        x_t, t = _noised(path, data[rows], torch.Generator().manual_seed(seed + 1))
        logits = classifier.logits(x_t, t)
    temperature = calibrate_temperature(logits, labels[rows])
    classifier.temperature.fill_(temperature)
    return ClassifierFit(
        classifier,
        temperature,
        kept,
        (logits.argmax(dim=1) == labels[rows]).float().mean().item(),
        F.cross_entropy(logits, labels[rows]).item(),
        F.cross_entropy(logits / temperature, labels[rows]).item(),
    )
