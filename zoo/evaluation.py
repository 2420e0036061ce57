"""Score generated weights of any family and task against the baselines a sceptic asks for.

For each condition value (one, ``None``, for an unconditional group), next to n generated rows:
(a) the rows trained at that value (ground truth — train or held-out split; their stored metric,
    scored here where a row has none, as imported adapters may not),
(b) the rows of the nearest *training* value,
(c) training rows plus noise scaled so their distance to the zoo matches the generated rows'
    (in the generator's normalised space),
(d) the family's interpolation of the two neighbouring training values' last rows (LoRA: exact
    ΔW; others: weight mixing),
(e) the base without the family's weights,
and the memorisation study's baselines (Zeng et al. 2025), made from the training rows of the
nearest training value (every training row when unconditional): those rows plus noise at two
scales (``zoo.baselines.NOISE_SCALES`` × their per-element spread), the average of 16 random ones
(all of them if fewer), and a per-parameter Gaussian fitted to them. Novelty figures for generated
rows and every baseline: the distance to the nearest training row (normalised space; 0 is a copy)
and, where the task knows wrong examples, the maximum IoU of its wrong-example set with that of
any training row of the nearest training value; (c)'s rows get both figures too, under
``"noise matched"`` (their accuracy is ``noise_added``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from paramgen.generator import ParamGenerator
from paramgen.tasks import Task
from zoo.baselines import NOISE_SCALES, average_of_random, gaussian_fitted, noise_added
from zoo.novelty import error_set_iou, max_iou, nearest_distance
from zoo.row_scoring import RowScorer
from zoo.store import Zoo

__all__ = ["ConditionScores", "evaluate_generator"]

NAN = float("nan")


@dataclass
class ConditionScores:
    """Scores at one condition value (each list holds per-row metrics)."""

    value: float | None
    split: str
    generated: list[float]
    nearest_distance: list[float]
    trained: list[float]
    nearest_condition_value: float | None
    nearest_condition: list[float]
    noise_added: list[float]
    interpolated: float
    no_adapter: float
    training_distance: list[float] = field(default_factory=list)
    training_max_iou: list[float] = field(default_factory=list)
    baselines: dict[str, list[float]] = field(default_factory=dict)
    distances: dict[str, list[float]] = field(default_factory=dict)
    max_iou: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-plain form (``scores.json``)."""
        return asdict(self)


def _neighbours(value: float, train_values: np.ndarray) -> tuple[float, float]:
    below, above = train_values[train_values <= value], train_values[train_values >= value]
    low = below.max() if below.size else above.min()
    high = above.min() if above.size else below.max()
    return float(low), float(high)


def evaluate_generator(
    generator: ParamGenerator,
    zoo: Zoo,
    group_name: str,
    values: Sequence[float | None],
    n: int = 20,
    seed: int = 0,
    task: Task | str | None = None,
    condition_of: Callable[[float], Mapping] | None = None,
    **sampling,
) -> list[ConditionScores]:
    """Generate ``n`` rows per value and score them with the baselines above.

    ``task`` overrides the one the group recorded (needed for imported groups); ``condition_of``
    maps a value to what the generator is asked for (default ``{condition: value}``).
    """
    group = zoo.group(group_name)
    scorer = RowScorer.of_group(zoo, group, task)
    condition = scorer.task.condition
    rows = group.read()
    train = np.array([split == "train" for split in rows.split])
    conditions = rows.conditions[condition].numpy() if condition else np.zeros(len(train))
    train_values = np.unique(conditions[train])
    train_rows = rows.params[train]
    normalize = generator.normalizer.normalize
    rng = torch.Generator().manual_seed(seed)
    results = []
    for value in values:
        asked = (
            {} if condition is None else (condition_of or (lambda v: {condition: float(v)}))(value)
        )
        # The same sampling seed at every value, as `paramgen generate --seed` uses: eval then
        # scores exactly the rows that generate writes.
        generated = generator.sample_rows(asked, n, seed=seed, **sampling)
        nearest_value = (
            0.0 if condition is None else float(train_values[np.abs(train_values - value).argmin()])
        )
        at_value = np.flatnonzero(np.isclose(conditions, 0.0 if value is None else value))
        nearest_rows = np.flatnonzero(np.isclose(conditions, nearest_value) & train)
        nearest = nearest_distance(generated, train_rows, normalize)
        # The memorisation baselines start from the checkpoints of the nearest training value
        # (every training row when unconditional): rows of other conditions solve other tasks.
        pool = rows.params[nearest_rows] if len(nearest_rows) >= 2 else train_rows
        candidates = {
            "generated": generated,
            **{f"noise x{scale:g}": noise_added(pool, n, scale, rng) for scale in NOISE_SCALES},
            "average of 16": average_of_random(pool, n, rng, k=16),
            "Gaussian fit": gaussian_fitted(pool, n, rng),
        }
        # (c): Gaussian noise of the size that puts a row at the generated rows' distance.
        sigma = float(nearest.distance.median()) / np.sqrt(group.schema.dim)
        clean = normalize(rows.params[nearest_rows])
        matched = generator.normalizer.denormalize(
            clean + sigma * torch.randn(clean.shape, generator=rng)
        )
        novel = {**candidates, "noise matched": matched}  # novelty figures for (c) as well
        assessed = {name: scorer.assess(candidate, value) for name, candidate in novel.items()}
        nearest_assessed = scorer.assess(rows.params[nearest_rows], value)
        reference = nearest_assessed.wrong
        own = _training_novelty(
            normalize(rows.params[nearest_rows]),
            normalize(train_rows),
            reference,
            np.flatnonzero(train).searchsorted(nearest_rows),
        )
        results.append(
            ConditionScores(
                value=None if value is None else float(value),
                split=rows.split[at_value[0]] if at_value.size else "unseen",
                generated=assessed["generated"].scores,
                nearest_distance=nearest.distance.tolist(),
                trained=_trained(scorer, rows, at_value, value),
                nearest_condition_value=None if condition is None else nearest_value,
                nearest_condition=nearest_assessed.scores,
                noise_added=assessed["noise matched"].scores,
                interpolated=NAN
                if condition is None
                else _interpolated(scorer, group, rows, conditions, train, train_values, value),
                no_adapter=scorer.neutral_score(value),
                training_distance=own[0],
                training_max_iou=own[1],
                baselines={
                    name: assessed[name].scores for name in candidates if name != "generated"
                },
                distances={
                    name: nearest_distance(candidate, train_rows, normalize).distance.tolist()
                    for name, candidate in novel.items()
                },
                max_iou={}
                if reference is None
                else {name: max_iou(assessed[name].wrong, reference).tolist() for name in novel},
            )
        )
    return results


def _training_novelty(
    rows: torch.Tensor, train: torch.Tensor, wrong: torch.Tensor | None, index: np.ndarray
) -> tuple[list[float], list[float]]:
    """Training rows' own novelty: distance to the nearest *other* training row (normalised
    space) and max error-set IoU with the other rows scored (``index``: the rows' places in
    ``train``)."""
    if len(rows) == 0:
        return [], []
    distances = torch.cdist(rows.double(), train.double())
    distances[torch.arange(len(rows)), torch.as_tensor(index)] = float("inf")
    nearest = distances.min(dim=1).values
    if wrong is None or len(rows) < 2:
        return nearest.tolist(), []
    iou = error_set_iou(wrong, wrong)
    iou.fill_diagonal_(-1.0)
    return nearest.tolist(), iou.max(dim=1).values.tolist()


def _trained(scorer: RowScorer, rows, at_value: np.ndarray, value: float | None) -> list[float]:
    """(a): the metric stored with the rows at ``value``; rows stored without it (adapters
    imported with no metric, or an empty manifest cell: NaN) are scored through the task."""
    stored = rows.metrics.get(scorer.task.metric)
    scores = [NAN] * len(at_value) if stored is None else [float(a) for a in stored[at_value]]
    missing = [i for i, score in enumerate(scores) if not math.isfinite(score)]
    for i, score in zip(missing, scorer.scores(rows.params[at_value[missing]], value), strict=True):
        scores[i] = score
    return scores


def _interpolated(scorer, group, rows, conditions, train, train_values, value) -> float:
    """(d): the family's interpolation of the last rows of the two neighbouring training values."""
    low, high = _neighbours(value, train_values)
    lam = 0.0 if high == low else (value - low) / (high - low)
    last = {v: np.flatnonzero(np.isclose(conditions, v) & train)[-1] for v in (low, high)}
    mixed, config = scorer.family.interpolate(
        scorer.config,
        [
            group.schema.unflatten(rows.params[last[low]]),
            group.schema.unflatten(rows.params[last[high]]),
        ],
        [1 - lam, lam],
    )
    return scorer.score_tensors(mixed, config, value)
