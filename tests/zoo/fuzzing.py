"""Corrupt a small zoo in many ways and classify what reading it does (the suite's fuzz test and
``bench/zoo_fuzz.py`` share this).

Every corrupted copy is read through the API (open, groups, every row, base weights) and through
``paramgen zoo info`` and ``zoo check``. Outcomes: ``error`` (a ParamgenError / a one-line CLI
error), ``original`` (exactly the data written), ``traceback`` (any other exception), ``wrong``
(data returned that differs from what was written) and ``hang`` (no answer within the timeout).
"""

from __future__ import annotations

import shutil
import signal
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from typer.testing import CliRunner

from cli.app import app
from paramgen.errors import ParamgenError
from paramgen.schema import ParamSchema, ParamSpec
from zoo.store import Zoo

__all__ = ["KINDS", "Written", "corrupt", "fuzz", "read_outcome", "write_zoo"]

GROUP = "lora/toy/rot"
KINDS = ("flip", "burst", "zeros", "truncate", "attribute")
_ATTRIBUTES = (
    ("", "version"),
    ("", "format"),
    (f"groups/{GROUP}", "schema"),
    (f"groups/{GROUP}", "condition_shapes"),
    (f"groups/{GROUP}", "family_config"),
    (f"groups/{GROUP}", "schema_hash"),
    ("backbones/toy", "order"),
    ("backbones/toy", "sha256"),
)


@dataclass
class Written:
    """What was written: rows, labels and base weights, to compare reads against."""

    params: torch.Tensor
    angle: torch.Tensor
    accuracy: torch.Tensor
    run: np.ndarray
    split: list[str]
    weights: torch.Tensor


def write_zoo(path: Path, rows: int = 60, dim: int = 40) -> Written:
    """A small zoo: one group of ``rows`` rows and one backbone."""
    generator = torch.Generator().manual_seed(0)
    params = torch.randn(rows, dim, generator=generator)
    weights = torch.randn(4, 4, generator=generator)
    angle = torch.arange(rows, dtype=torch.float32)
    accuracy = torch.rand(rows, generator=generator)
    split = ["train", "heldout", "train"] * (rows // 3) + ["train"] * (rows % 3)
    with Zoo.create(path) as zoo:
        group = zoo.create_group(
            family="lora", backbone="toy", task="rot",
            schema=ParamSchema((ParamSpec("w", (dim,)),)),
            conditions={"angle": ()}, metrics=["accuracy"], family_config={"rank": 4},
        )  # fmt: skip
        group.append(params, conditions={"angle": angle}, metrics={"accuracy": accuracy},
                     run=np.arange(rows), split=split)  # fmt: skip
        zoo.store_backbone("toy", {"w": weights}, {"name": "toy"})
    return Written(params, angle, accuracy, np.arange(rows), split, weights)


def corrupt(source: Path, target: Path, kind: str, rng: np.random.Generator) -> str:
    """Copy ``source`` to ``target`` damaged by ``kind``; returns a description."""
    data = bytearray(source.read_bytes())
    if kind == "attribute":
        shutil.copyfile(source, target)
        owner, key = _ATTRIBUTES[rng.integers(len(_ATTRIBUTES))]
        with h5py.File(target, "r+") as file:
            value = file[owner or "/"].attrs[key]
            if isinstance(value, str | bytes):
                text = value if isinstance(value, str) else value.decode()
                cut = int(rng.integers(0, max(1, len(text))))
                file[owner or "/"].attrs[key] = (
                    text[:cut] + chr(int(rng.integers(32, 127))) + text[cut + 1 :]
                )
            else:
                file[owner or "/"].attrs[key] = int(value) + int(rng.choice([-1, 1, 1000]))
        return f"attribute {owner}/{key}"
    at = int(rng.integers(0, len(data)))
    if kind == "flip":
        data[at] ^= 1 << int(rng.integers(8))
    elif kind == "burst":
        for offset in range(int(rng.integers(2, 64))):
            if at + offset < len(data):
                data[at + offset] = int(rng.integers(256))
    elif kind == "zeros":
        size = int(rng.integers(1, 4096))
        data[at : at + size] = bytes(min(size, len(data) - at))
    elif kind == "truncate":
        data = data[:at]
    target.write_bytes(bytes(data))
    return f"{kind} at byte {at} of {len(source.read_bytes())}"


def _same(rows, backbone: torch.Tensor, written: Written) -> bool:
    return (
        torch.equal(rows.params, written.params)
        and torch.equal(rows.conditions["angle"], written.angle)
        and torch.equal(rows.metrics["accuracy"], written.accuracy)
        and np.array_equal(rows.run, written.run)
        and rows.split == written.split
        and torch.equal(backbone, written.weights)
    )


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def read_outcome(path: Path, written: Written, timeout: int = 40) -> tuple[str, str]:
    """(outcome, detail) of reading ``path`` through the API and the CLI."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        try:
            with Zoo.open(path) as zoo:
                if zoo.groups() != [GROUP]:
                    return "wrong", f"groups {zoo.groups()}"
                rows = zoo.group(GROUP).read()
                backbone = zoo.backbone_weights("toy")["w"]
                api = "original" if _same(rows, backbone, written) else "wrong"
        except ParamgenError as error:
            api = "error"
            detail = str(error)
        else:
            detail = ""
        if api == "wrong":
            return "wrong", "the API returned other data than was written"
        runner = CliRunner()
        for command in (["zoo", "info", str(path)], ["zoo", "check", str(path)]):
            result = runner.invoke(app, command)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                error = result.exception
                return "traceback", f"{' '.join(command[:2])}: {type(error).__name__}: {error}"
            if result.exit_code not in (0, 1) or (
                result.exit_code == 1 and command[1] == "info" and "error:" not in result.output
            ):
                return "traceback", f"{' '.join(command[:2])} exited {result.exit_code}"
            if command[1] == "check" and api == "error" and result.exit_code == 0:
                return "wrong", f"zoo check passed a zoo the API refuses ({detail})"
        return api, detail
    except _Timeout:
        return "hang", f"no answer within {timeout} s"
    except Exception as error:  # noqa: BLE001 - what the fuzz is looking for
        return "traceback", f"{type(error).__name__}: {error}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def fuzz(folder: Path, cases: int, seed: int) -> tuple[Counter, list[tuple[str, str, str]]]:
    """``cases`` corrupted copies of one small zoo, kinds in turn; returns the outcome counts and
    every case that was not a clean error or the original data (kind, damage, detail)."""
    source = folder / "original.h5"
    written = write_zoo(source)
    rng = np.random.default_rng(seed)
    counts: Counter = Counter()
    bad = []
    for case in range(cases):
        target = folder / f"case-{case}.h5"
        damage = corrupt(source, target, KINDS[case % len(KINDS)], rng)
        outcome, detail = read_outcome(target, written)
        counts[outcome] += 1
        if outcome not in ("error", "original"):
            bad.append((outcome, damage, detail))
        target.unlink()
    return counts, bad
