"""One zoo row <-> one plain safetensors file that carries its own description.

Many such files go back into a group in one all-or-nothing append, each with its own values.

safetensors metadata is str -> str only, so everything paramgen knows about the row (group, schema,
conditions, metrics, provenance) goes JSON-encoded under the single key ``paramgen``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from safetensors.torch import save_file

from paramgen import __version__
from paramgen.errors import ParamgenError
from paramgen.schema import ParamSchema
from zoo.group import SPLITS, ZooGroup
from zoo.row_checks import checked_row
from zoo.row_values import value_columns
from zoo.safetensors_file import SafetensorsFile, read_safetensors

__all__ = [
    "METADATA_KEY",
    "export_row_safetensors",
    "exported_description",
    "import_row_safetensors",
    "import_rows_safetensors",
    "is_exported",
    "write_row_safetensors",
]

METADATA_KEY = "paramgen"


def _plain(value: float) -> float | None:
    return None if math.isnan(value) else value


def write_row_safetensors(
    path: str | Path, schema: ParamSchema, params: torch.Tensor, description: Mapping
) -> Path:
    """Write one row ([D] params of ``schema``) to ``path`` as named tensors, with ``description``
    (group, family, family_config, conditions, metrics, run, step, seed, split, row) and the
    schema and paramgen version added to the metadata that :func:`import_rows_safetensors` reads.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ParamgenError(f"directory {path.parent} does not exist; create it first")
    if path.is_dir():
        raise ParamgenError(f"{path} is a directory; give the path of a .safetensors file")
    description = {
        **description,
        "schema": json.loads(schema.to_json()),
        "schema_hash": schema.hash,
        "paramgen_version": __version__,
    }
    tensors = {name: tensor.contiguous() for name, tensor in schema.unflatten(params).items()}
    save_file(tensors, path, metadata={METADATA_KEY: json.dumps(description, sort_keys=True)})
    return path


def export_row_safetensors(group: ZooGroup, row: int, path: str | Path) -> Path:
    """Write row ``row`` of ``group`` to ``path`` with its metadata."""
    rows = group.read(row)
    description = {
        "group": group.name,
        "family": group.family,
        "family_config": group.family_config,
        "conditions": {k: v[0].tolist() for k, v in rows.conditions.items()},
        "metrics": {k: _plain(float(v[0])) for k, v in rows.metrics.items()},
        "run": int(rows.run[0]),
        "step": int(rows.step[0]),
        "seed": int(rows.seed[0]),
        "split": rows.split[0],
        "row": int(rows.index[0]),
    }
    return write_row_safetensors(path, group.schema, rows.params[0], description)


def exported_description(file: SafetensorsFile) -> dict | None:
    """What :func:`export_row_safetensors` wrote into ``file``'s metadata; None for other files."""
    text = file.metadata.get(METADATA_KEY)
    if text is None:
        return None
    try:
        description = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParamgenError(
            f"{file.path}: its paramgen metadata is not valid JSON ({error}); export the row again"
        ) from None
    return _checked_description(description, file.path)


# What export_row_safetensors writes: each key and the type its value must have.
_DESCRIPTION = {"conditions": dict, "metrics": dict, "run": int, "step": int, "seed": int}


def _checked_description(description: object, path: Path) -> dict:
    """``description`` if it has every key export writes, each of the right type."""
    problems = []
    if not isinstance(description, dict):
        problems.append("it is not a JSON object")
    else:
        for key, kind in _DESCRIPTION.items():
            if not isinstance(description.get(key), kind) or isinstance(description[key], bool):
                problems.append(f"{key!r} is missing or not a {kind.__name__}")
        if description.get("split") not in SPLITS:
            problems.append(f"'split' is not one of {list(SPLITS)}")
    if problems:
        raise ParamgenError(
            f"{path}: its paramgen metadata is incomplete ({'; '.join(problems)}); export the "
            "row again"
        )
    return description


def is_exported(path: str | Path) -> bool:
    """Whether ``path`` was written by :func:`export_row_safetensors` (reads the header only)."""
    return exported_description(read_safetensors(path, select=lambda name: False)) is not None


def _read_exported(group: ZooGroup, path: Path) -> tuple[torch.Tensor, dict]:
    """The file's row of ``group`` (names, shapes, finite checked) and its description."""
    file = read_safetensors(path)
    description = exported_description(file)
    if description is None:
        raise ParamgenError(
            f"{path} has no paramgen metadata; it was not exported from a zoo — import plain "
            "state dicts into a subset group (import-safetensors with --keys), PEFT adapters "
            "with import-peft"
        )
    return checked_row(file.tensors, group.schema, str(path)), description


def import_rows_safetensors(
    group: ZooGroup,
    paths: Sequence[str | Path],
    progress: Callable[[int, int], None] | None = None,
) -> range:
    """Append files written by :func:`export_row_safetensors` to ``group``, one row each.

    Each row keeps the conditions, metrics (those the group records) and provenance in its file.
    All or nothing: every file is read and checked before one append; ``progress(done, total)``
    is called after each file. Returns the new rows' indices.
    """
    paths = [Path(path) for path in paths]
    if not paths:
        raise ParamgenError("no safetensors files given; name at least one")
    rows, descriptions = [], []
    for done, path in enumerate(paths, start=1):
        row, description = _read_exported(group, path)
        rows.append(row)
        descriptions.append(description)
        if progress is not None:
            progress(done, len(paths))
    labels = [str(path) for path in paths]
    # A metric this group does not record is dropped; an unmeasured one (null) is NaN.
    metrics = [
        {
            k: math.nan if v is None else v
            for k, v in d["metrics"].items()
            if k in group.metric_names
        }
        for d in descriptions
    ]
    conditions = [d["conditions"] for d in descriptions]
    return group.append(
        torch.stack(rows),
        conditions=value_columns(conditions, labels, "condition", required=True),
        metrics=value_columns(metrics, labels, "metric", required=False),
        run=[d["run"] for d in descriptions],
        step=[d["step"] for d in descriptions],
        seed=[d["seed"] for d in descriptions],
        split=[d["split"] for d in descriptions],
    )


def import_row_safetensors(group: ZooGroup, path: str | Path) -> int:
    """Append one file written by :func:`export_row_safetensors` to ``group``; returns its row."""
    return import_rows_safetensors(group, [path]).start
