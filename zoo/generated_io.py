"""Rows sampled by a generator, written the way the zoo writes its own rows.

``paramgen generate`` hands its rows here, so each output is what the matching import reads back:
a zoo group ``family/backbone/<task>-generated`` (open the store), PEFT adapter folders
(``zoo import-peft``) and safetensors files with the ``zoo export`` metadata
(``zoo import-safetensors``). Generated rows are marked ``split="generated"`` with their seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from paramgen.schema import ParamSchema
from zoo.peft_io import PeftAdapter, require_peft_family, write_peft_adapter
from zoo.safetensors_io import write_row_safetensors
from zoo.store import Zoo, group_name, group_parts

__all__ = [
    "GENERATED_SPLIT",
    "GeneratedRows",
    "append_generated",
    "export_generated_peft",
    "export_generated_safetensors",
]

GENERATED_SPLIT = "generated"


def _sample_name(index: int) -> str:
    """``sample_007``: the file or folder name of generated row ``index``."""
    return f"sample_{index:03d}"


@dataclass(frozen=True)
class GeneratedRows:
    """``params`` [N, D] rows of ``schema``, sampled for ``group``'s layout at ``conditions``
    (one value per condition, shared by every row) with sampling ``seed``."""

    params: torch.Tensor
    schema: ParamSchema
    group: str  # the group the generator learned, family/backbone/task
    condition_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    conditions: dict[str, float | list[float]] = field(default_factory=dict)
    family_config: dict = field(default_factory=dict)
    seed: int = 0

    @property
    def family(self) -> str:
        """The family of the rows (the first part of ``group``)."""
        return group_parts(self.group)[0]

    @property
    def generated_group(self) -> str:
        """Where ``append_generated`` puts them: ``family/backbone/<task>-generated``."""
        family, backbone, task = group_parts(self.group)
        return group_name(family, backbone, f"{task}-{GENERATED_SPLIT}")


def append_generated(path: str | Path, rows: GeneratedRows) -> range:
    """Append ``rows`` to the zoo at ``path`` (created if missing), in ``rows.generated_group``
    (created with the learned group's layout if missing); returns the new rows' indices."""
    path = Path(path)
    family, backbone, task = group_parts(rows.generated_group)
    with Zoo.open(path, "a") if path.exists() else Zoo.create(path) as store:
        target = store.create_group(
            family=family,
            backbone=backbone,
            task=task,
            schema=rows.schema,
            conditions=rows.condition_shapes,
            family_config=rows.family_config,
            exist_ok=True,
        )
        return target.append(
            rows.params, conditions=rows.conditions, seed=rows.seed, split=GENERATED_SPLIT
        )


def export_generated_peft(rows: GeneratedRows, folder: str | Path) -> list[Path]:
    """One PEFT adapter folder per row under ``folder`` (LoRA rows only)."""
    require_peft_family(rows.family, "this generator")
    return [
        write_peft_adapter(
            Path(folder) / _sample_name(index),
            PeftAdapter(rows.family_config, rows.schema.unflatten(params)),
        )
        for index, params in enumerate(rows.params)
    ]


def export_generated_safetensors(rows: GeneratedRows, folder: str | Path) -> list[Path]:
    """One safetensors file per row under ``folder``, described as ``zoo export`` describes a
    row (``row`` is the sample's index), so ``zoo import-safetensors`` appends it to a group."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return [
        write_row_safetensors(
            Path(folder) / f"{_sample_name(index)}.safetensors",
            rows.schema,
            params,
            {
                "group": rows.group,
                "family": rows.family,
                "family_config": rows.family_config,
                "conditions": rows.conditions,
                "metrics": {},
                "run": 0,
                "step": 0,
                "seed": rows.seed,
                "split": GENERATED_SPLIT,
                "row": index,
            },
        )
        for index, params in enumerate(rows.params)
    ]
