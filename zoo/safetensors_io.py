"""One zoo row <-> one plain safetensors file that carries its own description.

safetensors metadata is str -> str only, so everything paramgen knows about the row (group, schema,
conditions, metrics, provenance) goes JSON-encoded under the single key ``paramgen``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from paramgen import __version__
from paramgen.errors import ParamgenError
from zoo.group import ZooGroup

__all__ = ["export_row_safetensors", "import_row_safetensors"]

METADATA_KEY = "paramgen"


def _plain(value: float) -> float | None:
    return None if math.isnan(value) else value


def export_row_safetensors(group: ZooGroup, row: int, path: str | Path) -> Path:
    """Write row ``row`` of ``group`` to ``path`` with its metadata."""
    path = Path(path)
    rows = group.read(row)
    description = {
        "group": group.name,
        "family": group.family,
        "schema": json.loads(group.schema.to_json()),
        "schema_hash": group.schema.hash,
        "family_config": group.family_config,
        "conditions": {k: v[0].tolist() for k, v in rows.conditions.items()},
        "metrics": {k: _plain(float(v[0])) for k, v in rows.metrics.items()},
        "run": int(rows.run[0]),
        "step": int(rows.step[0]),
        "seed": int(rows.seed[0]),
        "split": rows.split[0],
        "row": int(rows.index[0]),
        "paramgen_version": __version__,
    }
    tensors = {
        name: tensor.contiguous() for name, tensor in group.schema.unflatten(rows.params[0]).items()
    }
    save_file(tensors, path, metadata={METADATA_KEY: json.dumps(description, sort_keys=True)})
    return path


def import_row_safetensors(group: ZooGroup, path: str | Path) -> int:
    """Append a file written by :func:`export_row_safetensors` to ``group``; returns its row."""
    path = Path(path)
    if not path.is_file():
        raise ParamgenError(f"safetensors file {path} does not exist")
    try:
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError) as error:
        raise ParamgenError(f"{path} is not a readable safetensors file ({error})") from error
    if METADATA_KEY not in metadata:
        raise ParamgenError(
            f"{path} has no paramgen metadata; it was not exported from a zoo — for PEFT adapters "
            "use import-peft"
        )
    description = json.loads(metadata[METADATA_KEY])
    group.schema.check_keys(list(tensors), f"weights in {path}")
    metrics = {k: math.nan if v is None else v for k, v in description["metrics"].items()}
    rows = group.append(
        group.schema.flatten(tensors),
        conditions=description["conditions"],
        metrics={k: v for k, v in metrics.items() if k in group.metric_names},
        run=description["run"],
        step=description["step"],
        seed=description["seed"],
        split=description["split"],
    )
    return rows.start
