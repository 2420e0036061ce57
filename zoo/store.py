"""The model-zoo store: one HDF5 file holding groups of flat weight rows and frozen base weights.

Layout (version 2; version 1 is the same without ``checksums``, read unchecked)::

    /                      attrs: format="paramgen-zoo", version=2, created_with
    /groups/<family>/<backbone>/<task>
                           attrs: family, backbone, task, schema (JSON), schema_hash,
                                  condition_shapes, family_config, backbone_spec (JSON),
                                  attrs_checksum (sha256 of the others; version 2)
      params               float32 [N, D], chunks of whole rows, resizable along N
      conditions/<name>    float32 [N, *shape]
      metrics/<name>       float32 [N]   (NaN = not measured)
      run, step, seed      int64 [N]
      split                int8 [N]      (index into attrs labels: train, heldout, generated)
      checksums/params     uint64 [N]    row checksums (version 2; zoo.checksums)
      checksums/labels     uint64 [N]
      committed            int64 [2]     rows below this are complete (and its complement;
                                         version 1: [1]); readers see only those
    /backbones/<name>      attrs: spec (JSON), sha256; tensors/<tensor name> in native dtype

Concurrency: one writer at a time per file, however it is named (``writer_lock``); readers open
in SWMR mode and can read while the writer appends. While a writer makes a structural change
(creating a group, storing base weights) readers wait briefly, then get an error telling them to
retry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import h5py
import numpy as np

from paramgen import __version__
from paramgen.errors import ParamgenError
from paramgen.schema import ParamSchema, state_dict_sha256
from zoo.checksums import attrs_checksum
from zoo.group import SPLITS, ZooGroup
from zoo.h5file import (
    FORMAT,
    FORMAT_VERSION,
    LIBVER,
    UNCHECKED_VERSION,
    damaged_file,
    open_for_reading,
    open_for_writing,
)
from zoo.probe import trust
from zoo.writer_lock import WriterLock

if TYPE_CHECKING:  # imported where weights are read: summaries need no torch
    import torch

__all__ = ["Zoo", "group_name", "group_parts"]

_CHUNK_BYTES = 256 * 1024


def _check_name(label: str, part: str) -> None:
    """HDF5 paths nest on '/': a name with one would silently become a subgroup."""
    if not part or "/" in part or part.strip() != part:
        raise ParamgenError(f"{label} name {part!r} must be non-empty and contain no '/'")


def group_name(family: str, backbone: str, task: str) -> str:
    """``family/backbone/task``, checking each part is a plain, non-empty name."""
    for label, part in (("family", family), ("backbone", backbone), ("task", task)):
        _check_name(label, part)
    return f"{family}/{backbone}/{task}"


def group_parts(name: str) -> tuple[str, str, str]:
    """``family/backbone/task`` → its three parts, checked (the inverse of :func:`group_name`)."""
    parts = name.split("/")
    if len(parts) != 3:
        raise ParamgenError(
            f"group name {name!r} must have three parts family/backbone/task, "
            "e.g. subset/my-net/ckpts"
        )
    family, backbone, task = parts
    group_name(family, backbone, task)
    return family, backbone, task


def _claim(path: Path) -> bool:
    """Make ``path`` an empty regular file if nothing is there (True), or check that what is
    there is one a new zoo may overwrite (False)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
        return True
    except FileExistsError:
        if path.is_symlink() or not path.is_file():
            raise ParamgenError(
                f"{path} is not a regular file (a link, pipe or directory?); a zoo is only "
                "created over a regular file — remove it or choose another path"
            ) from None
        return False
    except OSError as error:
        raise ParamgenError(f"cannot create zoo file {path}: {error.strerror}") from None


class Zoo:
    """An open zoo file; use as a context manager. ``Zoo.open(path)`` reads, ``mode="a"`` writes."""

    def __init__(self, path: Path, file: h5py.File, lock: WriterLock | None, wait: float) -> None:
        self.path = path
        self.file = file
        self._lock = lock
        self._wait = wait

    # ------------------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, path: str | Path, *, overwrite: bool = False, wait: float = 10.0) -> Zoo:
        """A new, empty zoo at ``path`` opened for writing."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise ParamgenError(f"zoo file {path} already exists; open it, or pass overwrite")
        if not path.parent.is_dir():
            raise ParamgenError(f"directory {path.parent} does not exist; create it first")
        created = _claim(path)  # the writer lock is keyed by the file's identity: make it first
        lock = WriterLock(path)
        try:
            lock.acquire()
            file = h5py.File(path, "w", libver=LIBVER)
        except BaseException as error:
            lock.release()
            if created:
                path.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise ParamgenError(f"cannot create zoo file {path}: {error}") from error
            raise
        file.attrs.update(format=FORMAT, version=FORMAT_VERSION, created_with=__version__)
        file.create_group("groups")
        file.create_group("backbones")
        file.flush()
        return cls(path, file, lock, wait)

    @classmethod
    def open(cls, path: str | Path, mode: Literal["r", "a"] = "r", *, wait: float = 10.0) -> Zoo:
        """Open an existing zoo; ``wait`` is how long to retry while another process blocks it."""
        path = Path(path)
        if mode == "r":
            return cls(path, open_for_reading(path, wait), None, wait)
        if mode != "a":
            raise ParamgenError(f"mode must be 'r' or 'a', got {mode!r}")
        zoo = cls.open_any_version(path, wait=wait)
        if zoo.version == UNCHECKED_VERSION:
            zoo.close()
            raise ParamgenError(
                f"zoo {path} is format version {UNCHECKED_VERSION}, whose rows carry no "
                f"checksums; run `paramgen zoo upgrade {path}` once (it adds checksums of the "
                "rows as they are now), then write to it"
            )
        return zoo

    @classmethod
    def open_any_version(cls, path: str | Path, *, wait: float = 10.0) -> Zoo:
        """Open for writing a zoo of any format version this code reads, a version-1 zoo
        included: what ``paramgen zoo upgrade`` needs; everything else uses ``open``."""
        path = Path(path)
        lock = WriterLock(path)
        lock.acquire()
        try:
            return cls(path, open_for_writing(path, wait), lock, wait)
        except BaseException:
            lock.release()
            raise

    def close(self) -> None:
        if self.file.id.valid:
            self.file.close()
            if self._lock is not None:
                trust(self.path)  # what this process wrote needs no probe to be reopened
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Zoo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def version(self) -> int:
        """The file's format version: 2 checks every row's bytes, 1 (older zoos) does not."""
        return int(self.file.attrs["version"])

    @property
    def writable(self) -> bool:
        return self._lock is not None

    @property
    def swmr_reader(self) -> bool:
        """Opened to follow a live writer: datasets must be refreshed before each read."""
        return not self.writable and self.file.swmr_mode

    def _require_writable(self) -> None:
        if not self.writable:
            raise ParamgenError(f"zoo {self.path} is open read-only; open it with mode='a'")

    def _start_appending(self) -> None:
        self._require_writable()
        if not self.file.swmr_mode:
            self.file.swmr_mode = True

    def _start_structural_change(self) -> None:
        """New objects cannot be created in SWMR mode: reopen plainly if we are in it."""
        self._require_writable()
        if self.file.swmr_mode:
            self.file.close()
            self.file = open_for_writing(self.path, self._wait)

    def _flush(self) -> None:
        self.file.flush()

    # --------------------------------------------------------------------------------- groups
    def groups(self) -> list[str]:
        """Names ``family/backbone/task`` of every group."""
        names: list[str] = []
        with damaged_file(self.path, "its list of groups"):
            self.file["groups"].visititems(
                lambda name, node: (
                    names.append(name)
                    if isinstance(node, h5py.Group) and "family" in node.attrs
                    else None
                )
            )
        return sorted(names)

    def group(self, name: str) -> ZooGroup:
        if name not in self.groups():
            raise ParamgenError(
                f"zoo {self.path} has no group {name!r}; it has {self.groups() or 'none'}"
            )
        with damaged_file(self.path, f"the metadata of group {name!r}"):
            node = self.file["groups"][name]
            self.check_attrs(node, f"group {name!r}")
            return ZooGroup(self, node)

    def create_group(
        self,
        *,
        family: str,
        backbone: str,
        task: str,
        schema: ParamSchema,
        conditions: Mapping[str, Sequence[int]],
        metrics: Sequence[str] = (),
        family_config: Mapping | None = None,
        backbone_spec: Mapping | None = None,
        exist_ok: bool = False,
    ) -> ZooGroup:
        """A new group; ``conditions`` maps each condition name to its shape (``()`` = scalar)."""
        name = group_name(family, backbone, task)
        attrs = {
            "family": family,
            "backbone": backbone,
            "task": task,
            "schema": schema.to_json(),
            "schema_hash": schema.hash,
            "condition_shapes": json.dumps(
                {k: [int(n) for n in v] for k, v in conditions.items()}, sort_keys=True
            ),
            "family_config": json.dumps(dict(family_config or {}), sort_keys=True),
            "backbone_spec": json.dumps(dict(backbone_spec or {}), sort_keys=True),
        }
        if name in self.groups():
            if not exist_ok:
                raise ParamgenError(f"zoo {self.path} already has a group {name!r}")
            existing = self.file["groups"][name].attrs
            for key in ("schema_hash", "condition_shapes", "family_config"):
                if existing[key] != attrs[key]:
                    raise ParamgenError(
                        f"group {name!r} exists with a different {key.replace('_', ' ')}; "
                        "use another task name for these weights"
                    )
            return self.group(name)
        self._start_structural_change()
        node = self.file["groups"].create_group(name)
        node.attrs.update(attrs)
        node.attrs["attrs_checksum"] = attrs_checksum(node.attrs)
        dim = schema.dim
        rows_per_chunk = max(1, _CHUNK_BYTES // (4 * dim))
        node.create_dataset(
            "params", shape=(0, dim), maxshape=(None, dim), chunks=(rows_per_chunk, dim), dtype="f4"
        )
        for cname, shape in conditions.items():
            shape = tuple(int(n) for n in shape)
            node.create_dataset(
                f"conditions/{cname}",
                shape=(0, *shape),
                maxshape=(None, *shape),
                chunks=(1024, *shape),
                dtype="f4",
            )
        for mname in metrics:
            node.create_dataset(
                f"metrics/{mname}", shape=(0,), maxshape=(None,), chunks=(1024,), dtype="f4"
            )
        node.require_group("metrics")
        node.require_group("conditions")
        for column in ("run", "step", "seed"):
            node.create_dataset(column, shape=(0,), maxshape=(None,), chunks=(1024,), dtype="i8")
        split = node.create_dataset(
            "split", shape=(0,), maxshape=(None,), chunks=(1024,), dtype="i1"
        )
        split.attrs["labels"] = json.dumps(list(SPLITS))
        for column in ("checksums/params", "checksums/labels"):
            node.create_dataset(column, shape=(0,), maxshape=(None,), chunks=(1024,), dtype="u8")
        node.create_dataset("committed", data=np.array([0, ~0], dtype=np.int64))
        self._flush()
        return ZooGroup(self, node)

    # ------------------------------------------------------------------------------ backbones
    def backbones(self) -> list[str]:
        """Names of the stored base weights."""
        with damaged_file(self.path, "its list of base weights"):
            return sorted(self.file["backbones"].keys())

    def store_backbone(
        self, name: str, state_dict: Mapping[str, torch.Tensor], spec: Mapping
    ) -> str:
        """Store frozen base weights under ``name``; returns their sha256. Idempotent."""
        _check_name("backbone", name)
        digest = state_dict_sha256(state_dict)
        if name in self.file["backbones"]:
            stored = self.file["backbones"][name].attrs["sha256"]
            if stored != digest:
                raise ParamgenError(
                    f"zoo {self.path} already holds different base weights for backbone {name!r} "
                    f"(sha256 {stored[:12]}… vs {digest[:12]}…); use a new zoo or backbone name"
                )
            return digest
        self._start_structural_change()
        node = self.file["backbones"].create_group(name)
        node.attrs.update(spec=json.dumps(dict(spec), sort_keys=True), sha256=digest)
        for tensor_name, tensor in state_dict.items():
            node.create_dataset(f"tensors/{tensor_name}", data=tensor.detach().cpu().numpy())
        node.attrs["order"] = json.dumps(list(state_dict))
        node.attrs["attrs_checksum"] = attrs_checksum(node.attrs)
        self._flush()
        return digest

    def backbone_spec(self, name: str) -> dict:
        """The stored spec (JSON) of backbone ``name``."""
        with damaged_file(self.path, f"the spec of base weights {name!r}"):
            return json.loads(self.backbone_node(name).attrs["spec"])

    def backbone_weights(self, name: str) -> dict[str, torch.Tensor]:
        """The frozen base weights, checked against their stored sha256."""
        import torch

        node = self.backbone_node(name)
        with damaged_file(self.path, f"the base weights of {name!r}"):
            weights = {
                # asarray: a 0-d dataset reads back as a numpy scalar, which from_numpy refuses.
                tensor_name: torch.from_numpy(np.asarray(node["tensors"][tensor_name][()]))
                for tensor_name in json.loads(node.attrs["order"])
            }
        if state_dict_sha256(weights) != node.attrs["sha256"]:
            raise ParamgenError(
                f"base weights of backbone {name!r} in {self.path} fail their sha256 check; "
                "the file is damaged — rebuild it"
            )
        return weights

    def backbone_node(self, name: str) -> h5py.Group:
        """The HDF5 group of backbone ``name``, its metadata checked."""
        if name not in self.backbones():
            raise ParamgenError(
                f"zoo {self.path} holds no base weights for backbone {name!r}; "
                f"it has {self.backbones() or 'none'}"
            )
        with damaged_file(self.path, f"base weights {name!r}"):
            node = self.file["backbones"][name]
            self.check_attrs(node, f"base weights {name!r}")
        return node

    def check_attrs(self, node: h5py.Group, what: str) -> None:
        """Refuse ``node`` (a group's or backbone's) if its attributes fail their checksum (a
        version-2 zoo's must carry one)."""
        stored = node.attrs.get("attrs_checksum")
        if stored is None and self.version == UNCHECKED_VERSION:
            return
        if stored != attrs_checksum(node.attrs):
            raise ParamgenError(
                f"zoo {self.path}: the metadata of {what} fail their checksum; the file is "
                "damaged — restore it from its source"
            )
