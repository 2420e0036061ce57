"""PEFT LoRA adapter folders <-> zoo rows.

A folder is what ``PeftModel.save_pretrained`` writes: ``adapter_config.json`` and
``adapter_model.safetensors`` with keys ``base_model.model.<module>.lora_{A,B}.weight``. In the zoo
the prefix is dropped (the schema names are ``<module>.lora_A.weight``) and the parts of the
config that define the layout and the scaling are kept as the group's ``family_config``.
Pickled ``adapter_model.bin`` files are refused: paramgen never unpickles.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from paramgen.errors import ParamgenError
from paramgen.families import family_names, get_family
from paramgen.families.lora import PEFT_KEY_PREFIX as KEY_PREFIX
from paramgen.families.lora import LoraFamily, LoraSpec, lora_identity
from paramgen.persistence import read_tensors
from paramgen.schema import ParamSchema
from zoo.group import ArrayLike, ZooGroup, split_codes
from zoo.row_checks import checked_row
from zoo.row_values import RowValues, value_columns
from zoo.store import Zoo, group_name

__all__ = [
    "PeftAdapter",
    "read_peft_adapter",
    "read_peft_adapters",
    "write_peft_adapter",
    "import_peft_adapter",
    "import_peft_adapters",
    "append_peft_adapters",
    "export_peft_adapter",
    "require_peft_family",
]

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"


@dataclass
class PeftAdapter:
    """An adapter's identity config and its tensors (keys without ``base_model.model.``)."""

    config: dict
    tensors: dict[str, torch.Tensor]
    folder: Path | None = None  # where it was read from, to name it in messages

    @property
    def identity(self) -> dict:
        """The config fields that two compatible adapters must share."""
        return lora_identity(self.config)


def read_peft_adapter(folder: str | Path) -> PeftAdapter:
    """Load and check a PEFT LoRA folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ParamgenError(f"adapter folder {folder} does not exist or is not a directory")
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not config_path.is_file():
        raise ParamgenError(f"{folder} has no {CONFIG_FILE}; is it a PEFT adapter folder?")
    if not weights_path.is_file():
        hint = (
            "only a pickled adapter_model.bin is there, which paramgen does not load; re-save "
            "it with save_pretrained(..., safe_serialization=True)"
            if (folder / "adapter_model.bin").exists()
            else "save the adapter with PeftModel.save_pretrained"
        )
        raise ParamgenError(f"{folder} has no {WEIGHTS_FILE}: {hint}")
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise ParamgenError(f"{config_path} is not valid JSON ({error})") from error
    if config.get("peft_type") != "LORA":
        raise ParamgenError(
            f"{config_path}: peft_type is {config.get('peft_type')!r}; "
            "only LORA adapters are supported"
        )
    raw = read_tensors(weights_path, "save the adapter again with PeftModel.save_pretrained")
    foreign = sorted(key for key in raw if not key.startswith(KEY_PREFIX))
    if foreign:
        raise ParamgenError(f"{weights_path} has keys outside {KEY_PREFIX!r}: {foreign[:5]}")
    tensors = {key.removeprefix(KEY_PREFIX): value for key, value in raw.items()}
    unpaired = sorted(
        key
        for key in tensors
        if ".lora_A." in key
        and key.replace(".lora_A.", ".lora_B.") not in tensors
        or ".lora_B." in key
        and key.replace(".lora_B.", ".lora_A.") not in tensors
    )
    if unpaired:
        raise ParamgenError(f"{weights_path}: LoRA factors without their partner: {unpaired[:5]}")
    return PeftAdapter(config=config, tensors=tensors, folder=folder)


def write_peft_adapter(folder: str | Path, adapter: PeftAdapter) -> Path:
    """Write a folder that ``PeftModel.from_pretrained(model, folder)`` loads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"base_model_name_or_path": None, "task_type": None, "inference_mode": True}
    config |= {key: value for key, value in adapter.config.items() if value is not None}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))
    tensors = {KEY_PREFIX + key: value.contiguous() for key, value in adapter.tensors.items()}
    save_file(tensors, folder / WEIGHTS_FILE, metadata={"format": "pt"})
    return folder


def _checked_row(
    adapter: PeftAdapter, identity: Mapping, schema: ParamSchema, reference: str
) -> torch.Tensor:
    """The adapter as a flat [D] row of ``schema`` once it matches ``reference`` and is finite."""
    what = f"adapter {adapter.folder}"
    ours = adapter.identity
    differing = sorted(key for key in ours if ours[key] != identity.get(key))
    if differing:
        raise ParamgenError(
            f"{what} differs from {reference} in "
            + ", ".join(f"{key} ({ours[key]!r} vs {identity.get(key)!r})" for key in differing)
            + "; import it under another task name"
        )
    return checked_row(adapter.tensors, schema, what)


def read_peft_adapters(
    folders: Sequence[str | Path], progress: Callable[[int, int], None] | None = None
) -> list[PeftAdapter]:
    """Read every folder and check each against the first (config, keys, shapes) and for NaN.

    Nothing touches a zoo, so a bad folder anywhere fails before any file changes.
    ``progress(done, total)`` is called after each folder.
    """
    if not folders:
        raise ParamgenError("no adapter folders given; name at least one")
    adapters: list[PeftAdapter] = []
    for done, folder in enumerate(folders, start=1):
        adapter = read_peft_adapter(folder)
        first = adapters[0] if adapters else adapter
        _checked_row(
            adapter,
            first.identity,
            ParamSchema.from_state_dict(first.tensors),
            f"adapter {first.folder}",
        )
        adapters.append(adapter)
        if progress is not None:
            progress(done, len(folders))
    return adapters


def append_peft_adapters(
    zoo: Zoo,
    adapters: Sequence[PeftAdapter],
    *,
    backbone: str,
    task: str,
    conditions: RowValues | None = None,
    metrics: RowValues | None = None,
    split: str | Sequence[str] = "train",
    run: ArrayLike = 0,
    step: ArrayLike = 0,
    seed: ArrayLike = 0,
) -> tuple[ZooGroup, range]:
    """Append adapters as rows of ``lora/<backbone>/<task>`` in one durable ``group.append``.

    ``conditions``/``metrics``: one mapping for every adapter or one per adapter (a metric an
    adapter leaves out is NaN). No conditions makes an unconditional group. Everything is checked
    before the group is created or a row written; returns the group and the new rows' indices.
    """
    if not adapters:
        raise ParamgenError("no adapters to append; name at least one folder")
    labels = [f"adapter {adapter.folder}" for adapter in adapters]
    condition_columns = value_columns(conditions, labels, "condition", required=True)
    metric_columns = value_columns(metrics, labels, "metric", required=False)
    split_codes(split, len(adapters))  # refuse a bad label before a new group is created
    name = group_name(LoraFamily.name, backbone, task)
    if name in zoo.groups():
        group = zoo.group(name)
        identity, schema, reference = group.family_config, group.schema, f"group {name!r}"
    else:
        group, first = None, adapters[0]
        identity, schema = first.identity, ParamSchema.from_state_dict(first.tensors)
        reference = f"adapter {first.folder}"
        LoraSpec.from_identity(identity)  # refuse what the LoRA family cannot run
    params = torch.stack([_checked_row(a, identity, schema, reference) for a in adapters])
    if group is None:
        group = zoo.create_group(
            family=LoraFamily.name,
            backbone=backbone,
            task=task,
            schema=schema,
            conditions={key: column.shape[1:] for key, column in condition_columns.items()},
            metrics=sorted(metric_columns),
            family_config=identity,
        )
    rows = group.append(
        params,
        conditions=condition_columns,
        metrics=metric_columns,
        split=split,
        run=run,
        step=step,
        seed=seed,
    )
    return group, rows


def import_peft_adapters(
    zoo: Zoo,
    folders: Sequence[str | Path],
    *,
    backbone: str,
    task: str,
    conditions: RowValues | None = None,
    metrics: RowValues | None = None,
    progress: Callable[[int, int], None] | None = None,
    **provenance,
) -> tuple[ZooGroup, range]:
    """Read, check and append many adapter folders as rows of ``lora/<backbone>/<task>``.

    All or nothing: every folder is read and checked before one ``group.append`` writes them.
    ``provenance``: ``split``, ``run``, ``step``, ``seed`` — one value or one per folder.
    """
    adapters = read_peft_adapters(folders, progress)
    return append_peft_adapters(
        zoo,
        adapters,
        backbone=backbone,
        task=task,
        conditions=conditions,
        metrics=metrics,
        **provenance,
    )


def import_peft_adapter(
    zoo: Zoo,
    folder: str | Path,
    *,
    backbone: str,
    task: str,
    conditions: Mapping[str, ArrayLike],
    metrics: Mapping[str, ArrayLike] | None = None,
    **provenance,
) -> tuple[ZooGroup, int]:
    """Append one adapter folder as a row of ``lora/<backbone>/<task>`` (created if missing)."""
    group, rows = import_peft_adapters(
        zoo,
        [folder],
        backbone=backbone,
        task=task,
        conditions=conditions,
        metrics=metrics,
        **provenance,
    )
    return group, rows.start


def require_peft_family(family: str, what: str) -> None:
    """Refuse to write ``what``'s weights of ``family`` as PEFT adapters unless the family can."""
    if family not in family_names() or "peft" not in get_family(family).export_formats:
        raise ParamgenError(
            f"{what} holds {family!r} weights; only LoRA weights export to PEFT (use the "
            "safetensors format instead)"
        )


def export_peft_adapter(group: ZooGroup, row: int, folder: str | Path) -> Path:
    """Write row ``row`` of a LoRA group as a PEFT adapter folder."""
    require_peft_family(group.family, f"group {group.name!r}")
    return write_peft_adapter(folder, PeftAdapter(group.family_config, group.tensors(row)))
