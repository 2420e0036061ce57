"""What to import, path by path: the same values for every path, or a CSV manifest.

A manifest is a CSV file with a header and one row per adapter folder (or checkpoint file)::

    folder,split,seed,condition.angle,condition.rgb,metric.accuracy
    runs/a00,train,0,-30,0.1;0.2;0.3,0.91
    /data/a01,heldout,1,30,0.4;0.5;0.6,

- ``folder`` (required): the adapter folder, relative to the manifest's own folder or absolute.
  An importer of files names its path column ``file`` instead (``read_import_manifest(column=)``).
- ``split``, ``run``, ``step``, ``seed`` (optional): a cell left empty, or a column left out,
  takes the value given on the command line (default train, 0, 0, 0).
- ``condition.NAME``: one number, or a vector as numbers separated by ``;`` (a quoted ``"0.1,0.2"``
  works too). Every row needs every condition, finite. No condition column: an unconditional group.
- ``metric.NAME``: one number; an empty cell means "not measured" (NaN in the zoo).

Any other column is an error (a typo such as ``conditon.angle`` must not drop a condition).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from paramgen.errors import ParamgenError
from zoo.group import SPLITS, split_codes

__all__ = ["ImportRows", "read_import_manifest"]

_PROVENANCE = ("split", "run", "step", "seed")
_PREFIXES = ("condition.", "metric.")


@dataclass(frozen=True)
class ImportRows:
    """Paths (folders or files) and, for each, its conditions, metrics and provenance (lists of
    equal length)."""

    paths: list[Path]
    conditions: list[dict[str, float | list[float]]]
    metrics: list[dict[str, float]]
    split: list[str]
    run: list[int]
    step: list[int]
    seed: list[int]

    def __post_init__(self) -> None:
        lengths = {len(column) for column in vars(self).values()}
        if len(lengths) != 1:
            raise ParamgenError(f"import rows have columns of different lengths {sorted(lengths)}")
        split_codes(self.split, len(self.split))  # a bad label fails before any zoo is touched

    @classmethod
    def same_for_all(
        cls,
        paths: Sequence[Path],
        conditions: Mapping[str, float | list[float]],
        metrics: Mapping[str, float],
        *,
        split: str = "train",
        run: int = 0,
        step: int = 0,
        seed: int = 0,
    ) -> ImportRows:
        """Every path with the same values (``import-peft DIR DIR … --condition …``)."""
        n = len(paths)
        return cls(
            list(paths),
            [dict(conditions)] * n,
            [dict(metrics)] * n,
            [split] * n,
            [run] * n,
            [step] * n,
            [seed] * n,
        )


def _lines(path: Path, column: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows with their line numbers."""
    if path.is_dir() or not path.is_file():
        raise ParamgenError(f"manifest {path} does not exist or is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets write a byte-order mark
    except (OSError, UnicodeDecodeError) as error:
        raise ParamgenError(
            f"manifest {path} is not a readable UTF-8 text file ({error})"
        ) from None
    reader = csv.reader(io.StringIO(text))
    try:
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise ParamgenError(f"manifest {path} line {reader.line_num}: bad CSV ({error})") from None
    if not rows:
        raise ParamgenError(f"manifest {path} is empty; it needs a header and one row per {column}")
    return [cell.strip() for cell in rows[0][1]], rows[1:]


def _check_header(path: Path, header: list[str], column: str) -> None:
    duplicates = sorted({name for name in header if header.count(name) > 1})
    unknown = [
        name
        for name in header
        if name not in (column, *_PROVENANCE)
        and not (name.startswith(_PREFIXES) and name.partition(".")[2])
    ]
    if column not in header or duplicates or unknown:
        raise ParamgenError(
            f"manifest {path} has columns {header}"
            + (f"; duplicated {duplicates}" if duplicates else "")
            + (f"; unknown {unknown}" if unknown else "")
            + f"; the columns are {column} (required), split, run, step, seed, condition.NAME "
            "and metric.NAME"
        )


def _numbers(text: str, where: str, *, vector: bool) -> float | list[float]:
    """``30`` → 30.0; with ``vector``, ``0.1;0.2`` (or ``0.1,0.2``) → [0.1, 0.2]."""
    parts = re.split(r"[;,]", text) if vector else [text]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        expected = "a number or N1;N2;…" if vector else "one number"
        raise ParamgenError(f"{where} is {text!r}; expected {expected}") from None
    return numbers[0] if len(numbers) == 1 else numbers


def _integer(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ParamgenError(f"{where} is {text!r}; expected a whole number") from None


def _values(record: dict[str, str], prefix: str, where: str, *, required: bool) -> dict:
    """``{NAME: value}`` of the ``prefix.NAME`` columns; empty cells are left out or refused."""
    values = {}
    for column, text in record.items():
        if column.startswith(prefix):
            if text:
                values[column.removeprefix(prefix)] = _numbers(
                    text, f"{where}: {column}", vector=required
                )
            elif required:
                raise ParamgenError(f"{where}: {column} is empty; every row needs it")
    return values


def read_import_manifest(
    path: str | Path,
    *,
    column: str = "folder",
    split: str = "train",
    run: int = 0,
    step: int = 0,
    seed: int = 0,
) -> ImportRows:
    """Read a manifest (format in this module's docstring) whose paths are in ``column``;
    ``split``… fill its empty cells."""
    path = Path(path)
    header, lines = _lines(path, column)
    _check_header(path, header, column)
    if not lines:
        raise ParamgenError(f"manifest {path} has a header but no rows; add one row per {column}")
    defaults = {"split": split, "run": run, "step": step, "seed": seed}
    columns: dict[str, list] = {name: [] for name in ("paths", "conditions", "metrics")}
    columns |= {name: [] for name in _PROVENANCE}
    for number, cells in lines:
        where = f"manifest {path} line {number}"
        if len(cells) != len(header):
            raise ParamgenError(f"{where} has {len(cells)} fields, the header {len(header)}")
        record = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        if not record[column]:
            raise ParamgenError(f"{where}: the {column} cell is empty")
        columns["paths"].append(path.parent / Path(record[column]).expanduser())
        columns["conditions"].append(_values(record, "condition.", where, required=True))
        columns["metrics"].append(_values(record, "metric.", where, required=False))
        label = record.get("split") or defaults["split"]
        if label not in SPLITS:
            raise ParamgenError(f"{where}: split {label!r} is not one of {list(SPLITS)}")
        columns["split"].append(label)
        for name in ("run", "step", "seed"):
            text = record.get(name)
            columns[name].append(_integer(text, f"{where}: {name}") if text else defaults[name])
    return ImportRows(**columns)
