"""Check a zoo's every byte (``paramgen zoo check``), copy out what is intact (``--salvage``), and
give a version-1 zoo its checksums (``paramgen zoo upgrade``).

A row is damaged when its params or its labels fail their checksum (``zoo.checksums``) or cannot
be read at all; a backbone when its tensors fail their sha256 or cannot be read; a group when its
metadata cannot be read (none of its rows can be trusted then). A check reads every row in
batches and isolates an unreadable batch row by row, so one damaged chunk names only its rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paramgen.errors import ParamgenError
from zoo.checksums import CorruptRowsError, attrs_checksum, labels_checksums, params_checksums
from zoo.group_definition import GroupDefinition
from zoo.h5file import FORMAT_VERSION, UNCHECKED_VERSION
from zoo.store import Zoo

__all__ = ["GroupCheck", "ZooCheck", "check_zoo", "salvage_zoo", "upgrade_zoo"]

BATCH_ROWS = 256


@dataclass
class GroupCheck:
    """One group: its committed rows, the damaged ones by index, or why it cannot be read."""

    name: str
    rows: int = 0
    damaged: list[int] = field(default_factory=list)
    unreadable: str = ""


@dataclass
class ZooCheck:
    """What ``check_zoo`` found: every group, damaged backbones, and whether rows are checked."""

    path: Path
    version: int
    groups: list[GroupCheck]
    damaged_backbones: dict[str, str]

    @property
    def clean(self) -> bool:
        """No damaged row, group or backbone."""
        return not self.damaged_backbones and not any(
            g.damaged or g.unreadable for g in self.groups
        )


def _bad_rows(read, index: np.ndarray) -> set[int]:
    """Rows of ``index`` that ``read(rows)`` refuses: from the checksum error, or row by row
    when the batch cannot be read at all."""
    try:
        read(index)
        return set()
    except CorruptRowsError as error:
        return set(error.rows)
    except ParamgenError:
        if index.size == 1:
            return {int(index[0])}
        return set().union(*(_bad_rows(read, index[i : i + 1]) for i in range(index.size)))


def _check_group(zoo: Zoo, name: str, batch_rows: int) -> GroupCheck:
    try:
        group = zoo.group(name)
        rows = len(group)
    except (ParamgenError, OSError, KeyError, ValueError, RuntimeError) as error:
        return GroupCheck(name, unreadable=str(error).splitlines()[0])
    damaged: set[int] = set()
    for start in range(0, rows, batch_rows):
        index = np.arange(start, min(start + batch_rows, rows))
        damaged |= _bad_rows(group.label_columns, index)
        damaged |= _bad_rows(group.read_params, index)
    return GroupCheck(name, rows, sorted(damaged))


def check_zoo(path: str | Path, batch_rows: int = BATCH_ROWS) -> ZooCheck:
    """Read every row and base-weights tensor of the zoo at ``path`` and report what is damaged
    (a version-1 zoo's rows can only be checked for readability)."""
    with Zoo.open(path) as zoo:
        try:
            names = zoo.groups()
            backbones = zoo.backbones()
        except (OSError, KeyError, ValueError, RuntimeError) as error:
            raise ParamgenError(
                f"zoo {path}: its index of groups cannot be read ({error}); the file is damaged "
                "beyond a row-by-row check — restore it from its source"
            ) from None
        groups = [_check_group(zoo, name, batch_rows) for name in names]
        damaged_backbones = {}
        for name in backbones:
            try:
                zoo.backbone_weights(name)
            except (ParamgenError, OSError, KeyError, ValueError, RuntimeError) as error:
                damaged_backbones[name] = str(error).splitlines()[0]
        return ZooCheck(Path(path), zoo.version, groups, damaged_backbones)


def salvage_zoo(path: str | Path, out: str | Path, report: ZooCheck | None = None) -> ZooCheck:
    """Copy every intact row (and intact base weights) of the zoo at ``path`` into a new zoo at
    ``out``, in order, groups recreated as they were; returns the check it salvaged by."""
    report = report or check_zoo(path)
    with Zoo.open(path) as zoo, Zoo.create(out) as new:
        for name, spec in _intact_backbone_specs(zoo, report).items():
            new.store_backbone(name, zoo.backbone_weights(name), spec)
        for checked in report.groups:
            if checked.unreadable:
                continue
            group = zoo.group(checked.name)
            copy = GroupDefinition.of(group).create_in(new)
            intact = np.setdiff1d(np.arange(checked.rows), np.asarray(checked.damaged, dtype=int))
            for start in range(0, intact.size, BATCH_ROWS):
                copy.append_rows(group.read(intact[start : start + BATCH_ROWS]))
    return report


def _intact_backbone_specs(zoo: Zoo, report: ZooCheck) -> dict[str, dict]:
    """The spec of every backbone whose weights passed the check."""
    return {
        name: zoo.backbone_spec(name)
        for name in zoo.backbones()
        if name not in report.damaged_backbones
    }


def upgrade_zoo(path: str | Path) -> list[tuple[str, int]]:
    """Give a version-1 zoo its row, counter and metadata checksums, computed from the file as
    it is now (so check it first if in doubt), and mark it version 2; returns (group, rows) per
    group. A version-2
    zoo is left alone. Safe to rerun after an interruption."""
    path = Path(path)
    with Zoo.open_any_version(path) as zoo:
        if zoo.version == FORMAT_VERSION:
            return []
        if zoo.version != UNCHECKED_VERSION:
            raise ParamgenError(f"zoo {path} has format version {zoo.version}; cannot upgrade it")
        done = []
        for name in zoo.groups():
            node = zoo.file["groups"][name]
            if "checksums" in node:  # an interrupted upgrade's: recomputed
                del node["checksums"]
            group = zoo.group(name)
            index = np.arange(len(group))
            params = (
                np.concatenate(
                    [
                        params_checksums(group.read_params(chunk).numpy(), chunk)
                        for chunk in np.array_split(index, max(1, index.size // BATCH_ROWS))
                    ]
                )
                if index.size
                else np.zeros(0, np.uint64)
            )
            labels = labels_checksums(group.label_columns(index))
            del node["committed"]
            node.create_dataset("committed", data=np.array([index.size, ~index.size], np.int64))
            node.attrs["attrs_checksum"] = attrs_checksum(node.attrs)
            for column, values in (("checksums/params", params), ("checksums/labels", labels)):
                node.create_dataset(
                    column, data=values, maxshape=(None,), chunks=(1024,), dtype="u8"
                )
            zoo.file.flush()
            done.append((name, int(index.size)))
        for name in zoo.backbones():
            node = zoo.file["backbones"][name]
            node.attrs["attrs_checksum"] = attrs_checksum(node.attrs)
        zoo.file.attrs["version"] = FORMAT_VERSION
        zoo.file.flush()
        return done
