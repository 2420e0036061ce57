"""A user's own checkpoints into a subset group: plain state-dict ``.safetensors`` files → rows.

p-diff collects checkpoints of one model (``save_file(model.state_dict(), "ckpt_017.safetensors")``)
and learns to generate some of their tensors — the last layers. Each file becomes one row of a
``subset/<backbone>/<task>`` group: the floating-point tensors the group's patterns select
(parameters and buffers such as BatchNorm running statistics, see
:class:`paramgen.families.subset.SubsetConfig`), checked by name and shape against the group's
schema — for a new group, against the first file — and for NaN. The file's other tensors (the rest
of the model) are not even loaded; store them with ``store-backbone`` to run the rows later.

All or nothing: every file is read and checked before the group is created or one row written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from paramgen.errors import ParamgenError
from paramgen.families import get_family
from paramgen.families.subset import SubsetConfig, SubsetFamily
from paramgen.schema import ParamSchema
from zoo.group import ZooGroup, split_codes
from zoo.row_checks import checked_row
from zoo.row_values import RowValues, value_columns
from zoo.safetensors_file import read_safetensors
from zoo.safetensors_io import exported_description
from zoo.store import Zoo, group_parts

__all__ = ["StateDictRows", "import_state_dicts", "read_state_dicts"]


@dataclass(frozen=True)
class StateDictRows:
    """Checked checkpoints: their schema and their rows ([n, D] float32), in file order."""

    schema: ParamSchema
    params: torch.Tensor
    paths: list[Path]


def _selected(path: Path, config: SubsetConfig) -> dict[str, torch.Tensor]:
    """The tensors of one plain state-dict file that ``config`` picks (only those are loaded)."""
    file = read_safetensors(path, config.selects)
    if exported_description(file) is not None:
        raise ParamgenError(
            f"{path} was written by `paramgen zoo export` and carries its own conditions and "
            "metrics; import such files on their own, without --keys, --condition, --metric or "
            "--manifest"
        )
    tensors = config.pick(file.tensors)
    if not tensors:
        raise ParamgenError(
            f"{path}: patterns {list(config.patterns)} match no floating-point tensor; it holds "
            f"{list(file.names)[:12]}{' …' if len(file.names) > 12 else ''} — adjust --keys"
        )
    return tensors


def read_state_dicts(
    paths: Sequence[str | Path],
    config: SubsetConfig,
    schema: ParamSchema | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StateDictRows:
    """Read the tensors ``config`` selects from every file, each checked against ``schema``
    (None: the first file's) and for NaN. Touches no zoo; ``progress(done, total)`` after each."""
    paths = [Path(path) for path in paths]
    if not paths:
        raise ParamgenError("no state-dict files given; name at least one .safetensors file")
    rows = []
    for done, path in enumerate(paths, start=1):
        tensors = _selected(path, config)
        if schema is None:
            schema = ParamSchema.from_state_dict(tensors)
        rows.append(checked_row(tensors, schema, f"state dict {path}"))
        if progress is not None:
            progress(done, len(paths))
    return StateDictRows(schema=schema, params=torch.stack(rows), paths=paths)


def _subset_config(
    family: SubsetFamily, group: ZooGroup | None, name: str, patterns: Sequence[str] | None
) -> SubsetConfig:
    """The existing group's config (``patterns``, if given, must agree) or a new one."""
    if group is None:
        if not patterns:
            raise ParamgenError(
                f"zoo has no group {name!r}; give the patterns of the tensors to keep "
                "(--keys 'head.*') to create it"
            )
        return SubsetConfig(tuple(patterns))
    config = family.config_from_dict(group.family_config)
    if patterns and tuple(patterns) != config.patterns:
        raise ParamgenError(
            f"group {name!r} keeps the tensors {list(config.patterns)}, not {list(patterns)}; "
            "leave --keys out, or import under another task name"
        )
    return config


def import_state_dicts(
    zoo: Zoo,
    group_name: str,
    paths: Sequence[str | Path],
    *,
    patterns: Sequence[str] | None = None,
    conditions: RowValues | None = None,
    metrics: RowValues | None = None,
    progress: Callable[[int, int], None] | None = None,
    **provenance,
) -> tuple[ZooGroup, range]:
    """Append plain state-dict files as rows of the subset group ``group_name``.

    An existing group keeps its patterns (``patterns`` may repeat them); a missing one is created
    with ``patterns`` and the first file's layout. ``conditions``/``metrics``: one mapping for
    every file or one per file; none makes an unconditional group (p-diff). ``provenance``:
    ``split``, ``run``, ``step``, ``seed`` — one value or one per file. Returns the group and the
    new rows' indices.
    """
    family_name, backbone, task = group_parts(group_name)
    family = get_family(family_name)
    if not isinstance(family, SubsetFamily):
        raise ParamgenError(
            f"plain state dicts import into a {SubsetFamily.name} group "
            f"({SubsetFamily.name}/BACKBONE/TASK), and {group_name!r} is a {family.name} group; "
            "only files written by `paramgen zoo export` import into other families"
        )
    labels = [str(path) for path in paths]
    condition_columns = value_columns(conditions, labels, "condition", required=True)
    metric_columns = value_columns(metrics, labels, "metric", required=False)
    split_codes(provenance.get("split", "train"), len(labels))  # refuse a bad label early
    group = zoo.group(group_name) if group_name in zoo.groups() else None
    config = _subset_config(family, group, group_name, patterns)
    read = read_state_dicts(paths, config, group.schema if group else None, progress)
    if group is None:
        group = zoo.create_group(
            family=family_name,
            backbone=backbone,
            task=task,
            schema=read.schema,
            conditions={name: column.shape[1:] for name, column in condition_columns.items()},
            metrics=sorted(metric_columns),
            family_config=family.config_to_dict(config),
        )
    rows = group.append(
        read.params, conditions=condition_columns, metrics=metric_columns, **provenance
    )
    return group, rows
