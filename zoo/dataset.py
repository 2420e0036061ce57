"""A torch Dataset over one zoo group that is safe to use with DataLoader workers."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import Dataset

from zoo.group import RowSelection, ZooGroup
from zoo.store import Zoo

__all__ = ["ZooDataset"]


class ZooDataset(Dataset):
    """Rows of ``group`` as ``{"params": [D], "conditions": {name: tensor}, "row": int}``.

    The row set is fixed when the dataset is made (rows appended later are not seen). The file is
    opened lazily, once per process: an HDF5 handle shared across a fork gives corrupt reads.
    """

    def __init__(self, path: str | Path, group: str, selection: RowSelection = None) -> None:
        self.path = Path(path)
        self.group_name = group
        with Zoo.open(self.path) as zoo:
            self.rows = zoo.group(group).resolve(selection)
        self._zoo: Zoo | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def _group(self) -> ZooGroup:
        if self._pid != os.getpid():
            self._zoo = Zoo.open(self.path)
            self._pid = os.getpid()
        return self._zoo.group(self.group_name)

    def __getitem__(self, item: int) -> dict:
        rows = self._group().read(int(self.rows[item]))
        return {
            "params": rows.params[0],
            "conditions": {name: value[0] for name, value in rows.conditions.items()},
            "row": torch.tensor(int(rows.index[0])),
        }

    def __getstate__(self) -> dict:
        # Workers started by spawn get a copy without the parent's open handle.
        return {**self.__dict__, "_zoo": None, "_pid": None}
