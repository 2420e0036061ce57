"""PEFT LoRA adapter folders <-> zoo rows.

A folder is what ``PeftModel.save_pretrained`` writes: ``adapter_config.json`` and
``adapter_model.safetensors`` with keys ``base_model.model.<module>.lora_{A,B}.weight``. In the zoo
the prefix is dropped (the schema names are ``<module>.lora_A.weight``) and the parts of the
config that define the layout and the scaling are kept as the group's ``family_config``.
Pickled ``adapter_model.bin`` files are refused: paramgen never unpickles.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from paramgen.errors import ParamgenError
from paramgen.families import get_family
from paramgen.families.lora import PEFT_KEY_PREFIX as KEY_PREFIX
from paramgen.families.lora import LoraFamily, LoraSpec, lora_identity
from paramgen.schema import ParamSchema
from zoo.group import ArrayLike, ZooGroup
from zoo.store import Zoo, group_name

__all__ = [
    "PeftAdapter",
    "read_peft_adapter",
    "write_peft_adapter",
    "import_peft_adapter",
    "export_peft_adapter",
]

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"


@dataclass
class PeftAdapter:
    """An adapter's identity config and its tensors (keys without ``base_model.model.``)."""

    config: dict
    tensors: dict[str, torch.Tensor]

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
    try:
        raw = load_file(weights_path)
    except (SafetensorError, OSError) as error:
        raise ParamgenError(
            f"{weights_path} is not a readable safetensors file ({error})"
        ) from error
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
    return PeftAdapter(config=config, tensors=tensors)


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
    adapter = read_peft_adapter(folder)
    name = group_name(LoraFamily.name, backbone, task)
    if name in zoo.groups():
        group = zoo.group(name)
        group.schema.check_keys(list(adapter.tensors), f"adapter {folder}")
        differing = sorted(
            key for key in adapter.identity if adapter.identity[key] != group.family_config.get(key)
        )
        if differing:
            raise ParamgenError(
                f"adapter {folder} differs from group {name!r} in "
                + ", ".join(
                    f"{key} ({adapter.identity[key]!r} vs {group.family_config.get(key)!r})"
                    for key in differing
                )
                + "; import it under another task name"
            )
    else:
        LoraSpec.from_identity(adapter.identity)  # refuse what the LoRA family cannot run
        group = zoo.create_group(
            family=LoraFamily.name,
            backbone=backbone,
            task=task,
            schema=ParamSchema.from_state_dict(adapter.tensors),
            conditions={key: torch.as_tensor(value).shape for key, value in conditions.items()},
            metrics=sorted(metrics or {}),
            family_config=adapter.identity,
        )
    rows = group.append(
        group.schema.flatten(adapter.tensors), conditions=conditions, metrics=metrics, **provenance
    )
    return group, rows.start


def export_peft_adapter(group: ZooGroup, row: int, folder: str | Path) -> Path:
    """Write row ``row`` of a LoRA group as a PEFT adapter folder."""
    if "peft" not in get_family(group.family).export_formats:
        raise ParamgenError(
            f"group {group.name!r} holds {group.family!r} weights; only LoRA groups export to PEFT "
            "(use the safetensors format instead)"
        )
    return write_peft_adapter(folder, PeftAdapter(group.family_config, group.tensors(row)))
