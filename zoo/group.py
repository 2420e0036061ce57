"""ZooGroup: the rows of one (family, backbone, task) — append durably, read by index or condition.

Durability rule: rows are written first, then the group's ``committed`` counter, each followed by
a flush. Readers see only rows below the counter, so a writer killed mid-append leaves its partial
rows invisible, and the next append overwrites them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from paramgen.errors import ParamgenError, check_names
from paramgen.schema import ParamSchema
from zoo.checksums import (
    LABEL_COLUMNS,
    CorruptRowsError,
    counter_value,
    labels_checksums,
    params_checksums,
)
from zoo.h5file import UNCHECKED_VERSION
from zoo.row_io import read_rows, write_rows

if TYPE_CHECKING:  # imported where rows become tensors: summaries read labels without torch
    import torch

__all__ = ["SPLITS", "RowLabels", "ZooRows", "ZooGroup", "RowSelection", "split_codes"]

SPLITS = ("train", "heldout", "generated")
RowSelection = int | slice | Sequence[int] | np.ndarray | None
ArrayLike = "float | int | Sequence[float] | np.ndarray | torch.Tensor"


@dataclass
class RowLabels:
    """Everything about a batch of rows but their params — a few bytes a row, where params are
    D floats — as numpy arrays; every field has n entries."""

    index: np.ndarray
    conditions: dict[str, np.ndarray]
    metrics: dict[str, np.ndarray]
    run: np.ndarray
    step: np.ndarray
    seed: np.ndarray
    split: list[str]

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class ZooRows(RowLabels):
    """A batch of rows: their labels, with ``conditions`` and ``metrics`` as tensors, and
    ``params`` [n, D] float32."""

    conditions: dict[str, torch.Tensor]
    metrics: dict[str, torch.Tensor]
    params: torch.Tensor


def _numpy(value) -> np.ndarray:
    """A tensor (any device) or array-like as a numpy array."""
    if hasattr(value, "detach"):  # a torch.Tensor, told apart without importing torch
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _as_array(value: ArrayLike, rows: int, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` as a [rows, *shape] array, broadcasting one value to every row."""
    array = _numpy(value)
    if array.shape == shape:
        array = np.broadcast_to(array, (rows, *shape))
    if array.shape != (rows, *shape):
        raise ParamgenError(
            f"{what} has shape {array.shape}, expected {(rows, *shape)} (or {shape} for all rows)"
        )
    return array


def split_codes(split: str | Sequence[str], rows: int) -> np.ndarray:
    """[rows] int8 codes of ``split`` (one label for all rows or one per row), checked."""
    labels = [split] * rows if isinstance(split, str) else list(split)
    if len(labels) != rows:
        raise ParamgenError(f"split has {len(labels)} labels for {rows} rows")
    unknown = sorted(set(labels) - set(SPLITS))
    if unknown:
        raise ParamgenError(f"split must be one of {list(SPLITS)}; got {unknown}")
    return np.array([SPLITS.index(label) for label in labels], dtype=np.int8)


class ZooGroup:
    """One group of a zoo. Obtain it from ``Zoo.group`` / ``Zoo.create_group``."""

    def __init__(self, zoo, node: h5py.Group) -> None:
        self._zoo = zoo
        self._path = node.name
        attrs = node.attrs
        self.name: str = node.name.removeprefix("/groups/")
        self.family: str = attrs["family"]
        self.backbone: str = attrs["backbone"]
        self.task: str = attrs["task"]
        self.schema = ParamSchema.from_json(attrs["schema"])
        if self.schema.hash != attrs["schema_hash"]:
            raise ParamgenError(
                f"group {self.name!r}: stored schema does not match its hash; the file was edited "
                "outside paramgen — re-create the group"
            )
        self.condition_shapes: dict[str, tuple[int, ...]] = {
            name: tuple(shape) for name, shape in json.loads(attrs["condition_shapes"]).items()
        }
        self.family_config: dict = json.loads(attrs["family_config"])
        self.backbone_spec: dict = json.loads(attrs["backbone_spec"])

    @property
    def _node(self) -> h5py.Group:
        # Looked up each time: the writer reopens its file when it leaves SWMR mode.
        return self._zoo.file[self._path]

    @property
    def zoo_path(self) -> Path:
        """The zoo file this group lives in (what a process of its own opens it by)."""
        return self._zoo.path

    @property
    def checked(self) -> bool:
        """Whether the rows carry checksums: every group of a version-2 zoo (one whose checksum
        columns are gone fails its reads), none of a version-1 zoo's until ``paramgen zoo
        upgrade``."""
        return self._zoo.version != UNCHECKED_VERSION

    @property
    def metric_names(self) -> list[str]:
        return sorted(self._node["metrics"].keys())

    def __len__(self) -> int:
        """Committed rows (rows a reader may see)."""
        where = f"zoo {self._zoo.path}, group {self.name!r}"
        try:
            counter, params = self._node["committed"], self._node["params"]
            # The counter's value first, then params' extent: the writer grows params before it
            # raises the counter, so rows below a counter read earlier are always there (reading
            # the value after the refresh of params let an append slip in between).
            if self._zoo.swmr_reader:
                counter.refresh()
            stored = counter[()]
            if self._zoo.swmr_reader:
                params.refresh()
            capacity = params.shape[0]
        except (OSError, RuntimeError, KeyError, ValueError) as error:
            raise ParamgenError(f"{where}: cannot read its row counter ({error})") from None
        count = counter_value(np.atleast_1d(stored), where)
        if not 0 <= count <= capacity:
            raise ParamgenError(
                f"{where}: its committed-row counter ({count}) does not fit its {capacity} rows; "
                "the file is damaged — find the intact rows with `paramgen zoo check`"
            )
        return count

    def __repr__(self) -> str:
        return f"ZooGroup({self.name!r}, rows={len(self)}, D={self.schema.dim})"

    # ----------------------------------------------------------------------------------- write
    def append(
        self,
        params: torch.Tensor | np.ndarray,
        *,
        conditions: Mapping[str, ArrayLike],
        metrics: Mapping[str, ArrayLike] | None = None,
        run: ArrayLike = 0,
        step: ArrayLike = 0,
        seed: ArrayLike = 0,
        split: str | Sequence[str] = "train",
    ) -> range:
        """Append rows ([D] or [n, D] params) durably; returns their indices once committed."""
        matrix = np.asarray(_numpy(params), dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix[None]
        if matrix.ndim != 2 or matrix.shape[1] != self.schema.dim:
            raise ParamgenError(
                f"group {self.name!r} stores rows of length D={self.schema.dim}; got params of "
                f"shape {tuple(matrix.shape)} — was it flattened with another schema?"
            )
        rows = matrix.shape[0]
        bad = ~np.isfinite(matrix).all(axis=1)
        if bad.any():
            raise ParamgenError(
                f"params rows {np.flatnonzero(bad)[:10].tolist()} contain NaN or Inf; a diverged "
                "run should not enter the zoo — drop those checkpoints"
            )
        with np.errstate(over="ignore"):  # an overflow to Inf is refused below, by name
            columns = {
                "conditions/" + k: v for k, v in self._condition_columns(conditions, rows).items()
            }
            metric_columns = self._metric_columns(metrics or {}, rows)
        columns |= {"metrics/" + k: v for k, v in metric_columns.items()}
        for name, column in columns.items():  # as stored: float32 overflows to Inf above 3.4e38
            allowed = np.isfinite(column) | (np.isnan(column) & name.startswith("metrics/"))
            if not allowed.all():
                kind, field = name.split("/")
                bad = np.flatnonzero(~allowed.reshape(rows, -1).all(axis=1))[:10].tolist()
                raise ParamgenError(
                    f"{kind[:-1]} {field!r} of rows {bad} is not a finite float32 number (beyond "
                    "±3.4e38, Inf or NaN); give finite values (a metric may be NaN: not measured)"
                )
        for name, value in (("run", run), ("step", step), ("seed", seed)):
            columns[name] = _as_array(value, rows, (), name).astype(np.int64)
        columns["split"] = split_codes(split, rows)

        self._zoo._start_appending()
        start = len(self)
        if self.checked:
            columns["checksums/labels"] = labels_checksums(columns)
            columns["checksums/params"] = params_checksums(matrix, np.arange(start, start + rows))
        columns["params"] = matrix
        for name, column in columns.items():
            dataset = self._node[name]
            dataset.resize(start + rows, axis=0)
            write_rows(dataset, start, column)
        self._zoo._flush()
        counter = self._node["committed"]
        total = start + rows
        counter[...] = [total, ~total] if counter.shape == (2,) else [total]
        self._zoo._flush()
        return range(start, start + rows)

    def append_rows(self, rows: ZooRows) -> range:
        """Append rows read from a group of the same definition (a shard, a damaged zoo's
        intact rows) with all their labels; returns their indices."""
        return self.append(
            rows.params,
            conditions=rows.conditions,
            metrics=rows.metrics,
            run=rows.run,
            step=rows.step,
            seed=rows.seed,
            split=rows.split,
        )

    def _condition_columns(self, conditions: Mapping[str, ArrayLike], rows: int) -> dict:
        check_names(conditions, self.condition_shapes, f"group {self.name!r} has conditions")
        return {
            name: _as_array(conditions[name], rows, shape, f"condition {name!r}").astype(np.float32)
            for name, shape in self.condition_shapes.items()
        }

    def _metric_columns(self, metrics: Mapping[str, ArrayLike], rows: int) -> dict:
        unknown = sorted(set(metrics) - set(self.metric_names))
        if unknown:
            raise ParamgenError(
                f"group {self.name!r} has metrics {self.metric_names}; unknown {unknown} — "
                "declare them when creating the group"
            )
        # Metrics not given are NaN: "not measured yet".
        return {
            name: _as_array(metrics.get(name, np.nan), rows, (), f"metric {name!r}").astype(
                np.float32
            )
            for name in self.metric_names
        }

    # ------------------------------------------------------------------------------------ read
    def resolve(self, selection: RowSelection) -> np.ndarray:
        """Row indices that ``selection`` names, checked against the committed rows."""
        total = len(self)
        if selection is None:
            return np.arange(total)
        if isinstance(selection, slice):
            return np.arange(total)[selection]
        index = np.asarray(selection)
        if index.dtype == bool:
            if index.shape != (total,):
                raise ParamgenError(f"row mask has shape {index.shape}, expected ({total},)")
            return np.flatnonzero(index)
        index = np.atleast_1d(index).astype(np.int64)
        index = np.where(index < 0, index + total, index)
        out_of_range = index[(index < 0) | (index >= total)]
        if out_of_range.size:
            raise ParamgenError(
                f"row {int(out_of_range[0])} is out of range for group {self.name!r} with "
                f"{total} rows"
            )
        return index

    def _read_column(self, name: str, index: np.ndarray) -> np.ndarray:
        try:
            dataset = self._node[name]
            if self._zoo.swmr_reader:
                dataset.refresh()
            return read_rows(dataset, index)
        except (OSError, RuntimeError, KeyError, ValueError) as error:
            raise ParamgenError(
                f"zoo {self._zoo.path}: cannot read column {name!r} of group {self.name!r} "
                f"({error}); the file is damaged — {self._check_hint()}"
            ) from None

    def _check_hint(self) -> str:
        path = self._zoo.path
        return f"find the damaged rows with `paramgen zoo check {path} --salvage NEW.h5`"

    def _verify(
        self, what: str, index: np.ndarray, stored: np.ndarray, computed: np.ndarray
    ) -> None:
        bad = np.flatnonzero(stored != computed)
        if bad.size:
            rows = sorted({int(i) for i in index[bad]})
            raise CorruptRowsError(
                f"zoo {self._zoo.path}: rows {rows[:10]}{' …' if len(rows) > 10 else ''} of "
                f"group {self.name!r} fail their {what} checksum; the file is damaged — "
                f"{self._check_hint()}",
                self.name,
                rows,
            )

    def label_columns(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """The raw label columns of rows ``index`` by column name ("conditions/<name>",
        "metrics/<name>", run, step, seed, split), checked against their checksums."""
        names = [f"conditions/{name}" for name in self.condition_shapes]
        names += [f"metrics/{name}" for name in self.metric_names]
        columns = {name: self._read_column(name, index) for name in (*names, *LABEL_COLUMNS)}
        if self.checked:
            stored = self._read_column("checksums/labels", index)
            self._verify("label", index, stored, labels_checksums(columns))
        return columns

    def _params(self, index: np.ndarray) -> np.ndarray:
        params = self._read_column("params", index)
        if self.checked:
            stored = self._read_column("checksums/params", index)
            self._verify("params", index, stored, params_checksums(params, index))
        return params

    def read_labels(self, selection: RowSelection = None) -> RowLabels:
        """Rows' conditions, metrics, run, step, seed and split, without their params (None: all
        committed rows) — what summaries need, read without touching the [N, D] params."""
        index = self.resolve(selection)
        columns = self.label_columns(index)
        return RowLabels(
            index=index,
            conditions={name: columns["conditions/" + name] for name in self.condition_shapes},
            metrics={name: columns["metrics/" + name] for name in self.metric_names},
            run=columns["run"],
            step=columns["step"],
            seed=columns["seed"],
            split=[SPLITS[code] for code in columns["split"]],
        )

    def read(self, selection: RowSelection = None) -> ZooRows:
        """Rows by index, slice, index list or boolean mask (None: all committed rows)."""
        import torch

        labels = self.read_labels(selection)
        return ZooRows(
            index=labels.index,
            params=torch.from_numpy(self._params(labels.index)),
            conditions={name: torch.from_numpy(v) for name, v in labels.conditions.items()},
            metrics={name: torch.from_numpy(v) for name, v in labels.metrics.items()},
            run=labels.run,
            step=labels.step,
            seed=labels.seed,
            split=labels.split,
        )

    def read_params(self, selection: RowSelection = None) -> torch.Tensor:
        """Rows' params [n, D] alone (any order, repeats allowed): what a fit's minibatch needs."""
        import torch

        return torch.from_numpy(self._params(self.resolve(selection)))

    def tensors(self, row: int) -> dict[str, torch.Tensor]:
        """One row unflattened into named tensors."""
        return self.schema.unflatten(self.read(row).params[0])

    def indices(self, split: str | None = None, **conditions: ArrayLike) -> np.ndarray:
        """Rows of ``split`` whose conditions equal the given values (to float32 tolerance)."""
        mask = np.ones(len(self), dtype=bool)
        columns = self.label_columns(np.arange(len(self)))
        if split is not None:
            mask &= columns["split"] == split_codes(split, 1)[0]
        for name, value in conditions.items():
            if name not in self.condition_shapes:
                raise ParamgenError(
                    f"unknown condition {name!r}; group {self.name!r} has "
                    f"{sorted(self.condition_shapes)}"
                )
            width = int(np.prod(self.condition_shapes[name]))
            column = columns["conditions/" + name].reshape(len(mask), width)
            target = np.asarray(value, dtype=np.float32).reshape(1, -1)
            mask &= np.isclose(column, target, rtol=1e-6, atol=1e-6).all(axis=1)
        return np.flatnonzero(mask)

    def iter_batches(self, batch_size: int, selection: RowSelection = None) -> Iterator[ZooRows]:
        """Read ``selection`` (default: all rows) in consecutive batches of ``batch_size``."""
        if batch_size < 1:
            raise ParamgenError(f"batch_size must be >= 1, got {batch_size}")
        index = self.resolve(selection)
        for start in range(0, index.size, batch_size):
            yield self.read(index[start : start + batch_size])
