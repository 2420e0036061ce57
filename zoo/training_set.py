"""A zoo group's rows as the generator's TrainingSet (the library never reads zoo files itself).

Rows that fit in ``in_memory_bytes`` are read once; larger training sets stay in the file and a
fit reads them a minibatch at a time (:class:`StreamedRows`), so a 10⁷-number zoo trains in a few
GB of RAM. The zoo must then stay open until the fit ends.

A process of a distributed fit takes its ``share`` of the rows: torch's ``DistributedSampler``
over the group's rows as a :class:`zoo.dataset.ZooDataset` deals them out (shuffled by the
fit's seed, each row to one process), and the process reads only those from the file.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data.distributed import DistributedSampler

from paramgen.generator import TrainingSet
from zoo.dataset import ZooDataset
from zoo.group import ZooGroup

__all__ = ["IN_MEMORY_BYTES", "StreamedRows", "shared_rows", "training_set"]

IN_MEMORY_BYTES = 1 << 30  # training rows up to 1 GiB are read into RAM once


class StreamedRows:
    """Rows ``index`` of ``group`` read on demand: ``rows[slice or LongTensor]`` → [n, D]."""

    def __init__(self, group: ZooGroup, index: np.ndarray) -> None:
        self.group, self.index = group, index
        self.shape = (len(index), group.schema.dim)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key: slice | torch.Tensor) -> torch.Tensor:
        positions = self.index[key] if isinstance(key, slice) else self.index[np.asarray(key)]
        return self.group.read_params(positions)


def shared_rows(dataset: ZooDataset, rank: int, processes: int, seed: int) -> np.ndarray:
    """The positions in ``dataset`` that process ``rank`` of ``processes`` trains on: the
    ``DistributedSampler``'s, without the repeats it pads the last processes' shares with."""
    sampler = DistributedSampler(dataset, processes, rank, shuffle=True, seed=seed)
    dealt = np.fromiter(sampler, dtype=np.int64)
    kept = rank + processes * np.arange(len(dealt)) < len(dataset)  # padding comes last
    return dealt[kept]


def training_set(
    group: ZooGroup,
    split: str | None = "train",
    in_memory_bytes: int = IN_MEMORY_BYTES,
    share: tuple[int, int, int] | None = None,
) -> TrainingSet:
    """Rows of ``split`` (None: every row) with their conditions and the group's description;
    the params are streamed from the file when they exceed ``in_memory_bytes``. ``share``
    (rank, processes, seed): only this process's part of the rows (see the module doc)."""
    index = group.indices(split=split)
    if share is not None:
        dataset = ZooDataset(group.zoo_path, group.name, index)
        index = dataset.rows[np.sort(shared_rows(dataset, *share))]
    labels = group.read_labels(index)
    streamed = len(index) * group.schema.dim * 4 > in_memory_bytes
    params = StreamedRows(group, index) if streamed else group.read_params(index)
    return TrainingSet(
        params=params,
        conditions={name: torch.from_numpy(value) for name, value in labels.conditions.items()},
        schema=group.schema,
        metadata={
            "group": group.name,
            "family": group.family,
            "family_config": group.family_config,
            "backbone": group.backbone,
            "split": split,
        },
    )
