"""Shard files: one build's rows written by several writers at once, joined by ``zoo merge``.

A zoo has one writer; a build on hundreds of Ray workers outruns it (``bench/ray_build.py``). So
such a build gives every Ray node a writer of its own, appending to the node's *shard*: an
ordinary zoo file holding one group defined exactly as the zoo's (``GroupDefinition``), tagged
with that group's name and the sha256 of the base weights its rows were trained on, and holding
rows only. A shard directory holds one build's shards and ``shards.json``, its manifest: the
group, every shard written (with the host it was written on: a node's disk may be its own) and
every run the build planned.

``ShardMerge`` writes nothing while a listed shard is missing, a shard holds another group or
was trained on other base weights, or a planned run is in no shard and not in the zoo; it then
appends every run not in the zoo yet, one append per run, so a merge stopped midway continues
when run again. A run found in two shards (a task retried on another node after its rows were
stored) is taken once, from the first shard by name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paramgen.errors import ParamgenError
from zoo.group import ZooGroup
from zoo.group_definition import GroupDefinition
from zoo.store import Zoo

__all__ = [
    "MANIFEST",
    "MergeReport",
    "RunKey",
    "ShardMerge",
    "ShardManifest",
    "ShardTag",
    "merge_shards",
    "open_shard",
    "run_key",
    "run_keys",
    "stored_base_sha256",
]

MANIFEST = "shards.json"
RunKey = tuple[int, float | None]  # a run's number and condition value (as float32 stores it)


def run_key(run: int, value: float | None) -> RunKey:
    """The key a run is known by in a zoo: its number and its value rounded to float32."""
    return int(run), None if value is None else float(np.float32(value))


def run_keys(group: ZooGroup) -> dict[RunKey, np.ndarray]:
    """Each run stored in ``group`` (which has at most one scalar condition): its row indices."""
    labels = group.read_labels()
    (values,) = labels.conditions.values() if labels.conditions else ([None] * len(labels),)
    rows: dict[RunKey, list[int]] = {}
    for index, run, value in zip(labels.index, labels.run, values, strict=True):
        rows.setdefault(run_key(run, None if value is None else float(value)), []).append(index)
    return {key: np.asarray(index) for key, index in rows.items()}


@dataclass(frozen=True)
class ShardTag:
    """What a shard belongs to: the zoo group's name and the sha256 of the base weights its rows
    were trained on (None: the zoo stores no base under the group's backbone name)."""

    group: str
    base_sha256: str | None

    def to_json(self) -> str:
        return json.dumps({"group": self.group, "base_sha256": self.base_sha256}, sort_keys=True)

    @classmethod
    def of(cls, zoo: Zoo, path: Path) -> ShardTag:
        """The tag of the shard ``zoo`` (at ``path``), or an error if it is not a shard."""
        text = zoo.file.attrs.get("shard_of")
        if text is None:
            raise ParamgenError(f"{path} is a zoo, not a shard of a build; leave it out")
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            raise ParamgenError(
                f"{path}: its shard tag is not one paramgen wrote; the file is damaged — build "
                "its runs again into a new shard directory"
            ) from None


def open_shard(path: Path, definition: GroupDefinition, tag: ShardTag) -> tuple[Zoo, ZooGroup]:
    """The shard at ``path`` opened for writing — created if missing, else checked to be one of
    the same group and base — and its group."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        zoo = Zoo.create(path)
        zoo.file.attrs["shard_of"] = tag.to_json()
        return zoo, definition.create_in(zoo)
    zoo = Zoo.open(path, "a")
    try:
        if ShardTag.of(zoo, path) != tag:
            raise ParamgenError(
                f"{path} is a shard of another build ({ShardTag.of(zoo, path).group}); give "
                "the build a directory of its own"
            )
        return zoo, definition.create_in(zoo, exist_ok=True)
    except BaseException:
        zoo.close()
        raise


@dataclass
class ShardManifest:
    """A shard directory's record of one build: its group, shards (file name → the host that
    wrote it) and planned runs."""

    group: str
    shards: dict[str, str] = field(default_factory=dict)
    runs: set[RunKey] = field(default_factory=set)

    @classmethod
    def read(cls, directory: Path) -> ShardManifest | None:
        """The manifest in ``directory`` (None where there is none yet)."""
        path = directory / MANIFEST
        if not path.exists():
            return None
        if not path.is_file():
            raise ParamgenError(f"{path} is not a regular file; remove it and build again")
        try:
            data = json.loads(path.read_text())
            runs = {run_key(run, value) for run, value in data["runs"]}
            return cls(data["group"], dict(data["shards"]), runs)
        except (ValueError, KeyError, TypeError) as error:
            raise ParamgenError(
                f"{path} is not a shard manifest paramgen wrote ({error}); restore it or rebuild "
                "into an empty directory"
            ) from None

    def write(self, directory: Path) -> None:
        """Replace the manifest in ``directory`` atomically (a killed write leaves the old one)."""
        data = {
            "group": self.group,
            "shards": dict(sorted(self.shards.items())),
            "runs": sorted(self.runs, key=lambda key: key[0]),
        }
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / f".{MANIFEST}.{os.getpid()}"
        temporary.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(temporary, directory / MANIFEST)

    def joined(self, group: str, shards: Mapping[str, str], runs: Iterable[RunKey]) -> None:
        """Add a build's shards and runs; a directory holds the shards of one group only."""
        if group != self.group:
            raise ParamgenError(
                f"the shard directory holds shards of group {self.group!r}, not {group!r}; give "
                "this build a directory of its own"
            )
        self.shards.update(shards)
        self.runs.update(runs)


@dataclass(frozen=True)
class MergeReport:
    """What a merge did: runs and rows appended, runs already in the zoo, runs found twice."""

    runs: int
    rows: int
    already_merged: int
    duplicates: int
    shards: int


def _read_shards(zoo: Zoo, group: ZooGroup, directory: Path, manifest: ShardManifest) -> dict:
    """Each listed shard's runs, after checking every shard is present and of this group."""
    missing = [f"{name} (written on {host})" for name, host in manifest.shards.items()
               if not (directory / name).is_file()]  # fmt: skip
    if missing:
        raise ParamgenError(
            f"shards missing from {directory}: {', '.join(missing)}; copy them in from the "
            "nodes that wrote them, then merge again"
        )
    definition = GroupDefinition.of(group)
    base = stored_base_sha256(zoo, group.backbone)
    stored: dict[str, dict[RunKey, np.ndarray]] = {}
    for name in sorted(manifest.shards):
        path = directory / name
        with Zoo.open(path) as shard:
            tag = ShardTag.of(shard, path)
            if tag.group != group.name or tag.group not in shard.groups():
                raise ParamgenError(f"shard {path} holds group {tag.group!r}, not {group.name!r}")
            if GroupDefinition.of(shard.group(tag.group)) != definition:
                raise ParamgenError(
                    f"shard {path} defines group {group.name!r} otherwise than {zoo.path} does "
                    "(schema, family config or build config); it belongs to another build"
                )
            if tag.base_sha256 is not None and tag.base_sha256 != base:
                raise ParamgenError(
                    f"shard {path} was trained on other base weights than {zoo.path} holds for "
                    f"{group.backbone!r}; it belongs to another zoo"
                )
            stored[name] = run_keys(shard.group(tag.group))
    return stored


def stored_base_sha256(zoo: Zoo, backbone: str) -> str | None:
    """The sha256 of the base weights ``zoo`` stores for ``backbone`` (None: none stored)."""
    if backbone not in zoo.backbones():
        return None
    return str(zoo.backbone_node(backbone).attrs["sha256"])


class ShardMerge:
    """A merge checked and ready (``ShardMerge.open``): nothing is written until ``run``."""

    def __init__(self, zoo: Zoo, directory: Path) -> None:
        manifest = ShardManifest.read(directory)
        if manifest is None:
            raise ParamgenError(
                f"{directory} has no {MANIFEST}: it is not the shard directory of a build (the "
                "directory given to --shards)"
            )
        self._directory, self._name = directory, manifest.group
        self._group = zoo.group(manifest.group)
        in_zoo = set(run_keys(self._group))
        self._stored = _read_shards(zoo, self._group, directory, manifest)
        self._source: dict[RunKey, str] = {}
        self._duplicates = 0
        for name, runs in self._stored.items():
            for key in runs:
                self._duplicates += key in self._source and key not in in_zoo
                self._source.setdefault(key, name)
        lost = sorted(manifest.runs - in_zoo - set(self._source), key=lambda key: key[0])
        if lost:
            shown = ", ".join(f"run {run}" + ("" if v is None else f" ({v:+g})") for run, v in lost)
            raise ParamgenError(
                f"{len(lost)} planned runs are in no shard and not in the zoo: {shown}; run the "
                "build again with the same --shards directory (it trains only those), then merge"
            )
        self._already = len(in_zoo & set(self._source))
        self.pending = sorted(set(self._source) - in_zoo, key=lambda key: key[0])

    @classmethod
    @contextmanager
    def open(cls, zoo_path: str | Path, directory: str | Path) -> Iterator[ShardMerge]:
        """The checked merge of the shards in ``directory`` into the zoo at ``zoo_path``
        (opened for writing while the block runs)."""
        with Zoo.open(zoo_path, "a") as zoo:
            yield cls(zoo, Path(directory))

    def run(self, on_run: Callable[[], None] = lambda: None) -> MergeReport:
        """Append every pending run, one atomic append each, calling ``on_run`` after each."""
        rows = 0
        for name in self._stored:  # each shard opened once; its runs in order of their numbers
            runs = [key for key in self.pending if self._source[key] == name]
            if runs:
                rows += self._copy(name, runs, on_run)
        return MergeReport(
            len(self.pending), rows, self._already, self._duplicates, len(self._stored)
        )

    def _copy(self, shard_name: str, runs: list[RunKey], on_run: Callable[[], None]) -> int:
        copied = 0
        with Zoo.open(self._directory / shard_name) as shard:
            source = shard.group(self._name)
            for key in runs:
                copied += len(self._group.append_rows(source.read(self._stored[shard_name][key])))
                on_run()
        return copied


def merge_shards(zoo_path: str | Path, directory: str | Path) -> MergeReport:
    """Append the runs of the shards in ``directory`` to their group in the zoo at
    ``zoo_path`` (see the module doc)."""
    with ShardMerge.open(zoo_path, directory) as merge:
        return merge.run()
