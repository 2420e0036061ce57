"""``paramgen zoo import-peft | import-safetensors``: append weights from files to a zoo group.

All or nothing: every folder or file is read and checked before one append writes them all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from cli.errors import user_errors
from cli.parsing import parse_assignments
from cli.progress import StageBars
from cli.zoo_files import CreateOption, ZooPath, open_for_writing
from paramgen.errors import ParamgenError
from paramgen.families.subset import SubsetFamily
from zoo.import_manifest import ImportRows, read_import_manifest
from zoo.peft_io import append_peft_adapters, read_peft_adapters
from zoo.safetensors_io import import_rows_safetensors, is_exported
from zoo.state_dict_io import import_state_dicts
from zoo.store import group_parts

__all__ = ["import_peft", "import_safetensors"]

_console = Console(emoji=False, highlight=False)
# Fewer folders or files than this are read in a blink: no progress bar.
_PROGRESS_FROM = 4
T = TypeVar("T")
_COLUMNS = (
    "optional split, run, step, seed, and condition.NAME (a vector as N1;N2) and metric.NAME "
    "(empty: not measured) columns."
)
MetricOption = Annotated[list[str] | None, typer.Option(help="NAME=VALUE (repeat).")]
AdapterFolders = Annotated[
    list[Path] | None,
    typer.Argument(
        help="PEFT adapter folders (adapter_config.json + adapter_model.safetensors); "
        "or give --manifest instead.",
        show_default=False,
    ),
]
AdapterManifest = Annotated[
    Path | None,
    typer.Option(
        help="CSV with a header and one row per folder: folder (relative to the CSV or "
        f"absolute), {_COLUMNS}"
    ),
]
AdapterCondition = Annotated[
    list[str] | None,
    typer.Option(
        help="NAME=VALUE for every folder (repeat; VALUE may be N1,N2,… for vectors). "
        "None: an unconditional group."
    ),
]
AdapterSplit = Annotated[
    str, typer.Option(help="train, heldout or generated (with --manifest: where it is empty).")
]
SafetensorsGroup = Annotated[
    str,
    typer.Argument(
        help=f"Group family/backbone/task; plain state dicts go to a "
        f"{SubsetFamily.name}/BACKBONE/TASK group."
    ),
]
SafetensorsFiles = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Files exported by `paramgen zoo export` or `paramgen generate` (their values come "
        "with them), or plain state dicts as safetensors.torch.save_file(model.state_dict(), "
        "path) writes them; or give --manifest instead.",
        show_default=False,
    ),
]
FamilyCheck = Annotated[
    str | None, typer.Option(help="Optional check: the family GROUP starts with.")
]
KeysOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Plain state dicts: name pattern (fnmatch) of the tensors to keep, e.g. 'head.*' "
        "(repeat). Needed to create the group; an existing group keeps its own."
    ),
]
FileManifest = Annotated[
    Path | None,
    typer.Option(
        help="Plain state dicts: CSV with a header and one row per file: file (relative to "
        f"the CSV or absolute), {_COLUMNS}"
    ),
]
FileCondition = Annotated[
    list[str] | None,
    typer.Option(
        help="Plain state dicts: NAME=VALUE for every file (repeat; VALUE may be N1,N2,… for "
        "vectors). None: an unconditional group."
    ),
]
FileSplit = Annotated[
    str | None,
    typer.Option(
        help="train, heldout or generated (default train; with --manifest: where it is empty).",
        show_default=False,
    ),
]


def _import_rows(
    paths: list[Path] | None,
    manifest: Path | None,
    condition: list[str] | None,
    metric: list[str] | None,
    *,
    what: str = "adapter folder",
    column: str = "folder",
    **provenance,
) -> ImportRows:
    """The paths (``what``s) and their values, from arguments with shared options or a manifest
    whose ``column`` holds the paths."""
    if manifest is not None:
        if paths or condition or metric:
            raise ParamgenError(
                f"give {what}s with --condition/--metric, or --manifest with condition.NAME "
                "and metric.NAME columns — not both"
            )
        return read_import_manifest(manifest, column=column, **provenance)
    if not paths:
        raise ParamgenError(f"name at least one {what}, or give --manifest FILE.csv")
    return ImportRows.same_for_all(
        paths,
        parse_assignments(condition or [], "--condition"),
        parse_assignments(metric or [], "--metric"),
        **provenance,
    )


def _with_progress(stage: str, total: int, work: Callable[[Callable | None], T]) -> T:
    """``work(progress)`` with a progress bar named ``stage`` once there are enough items."""
    if total < _PROGRESS_FROM:
        return work(None)
    with StageBars(_console) as bars:
        return work(lambda done, count: bars.set(stage, count, done))


def _report(added: range, first: Path, what: str, group: str, total: int) -> None:
    """``appended FIRST as row N of GROUP`` or ``appended K WHATs as rows N–M of GROUP``."""
    rows = (
        f"{escape(str(first))} as row {added.start}"
        if len(added) == 1
        else f"{len(added)} {what} as rows {added.start}–{added.stop - 1}"
    )
    _console.print(f"appended {rows} of {escape(group)} ({total} rows)", soft_wrap=True)


def _import_exported(path: Path, group: str, files: list[Path], create: bool, **given) -> None:
    """Files written by ``zoo export``: their own values, so none of ``given`` may be set."""
    options = sorted(f"--{name}" for name, value in given.items() if value not in (None, []))
    if options:
        raise ParamgenError(
            f"{files[0]} was written by `paramgen zoo export` and carries its own layout, "
            f"conditions, metrics and provenance; drop {', '.join(options)}"
        )
    with open_for_writing(path, create) as zoo:
        chosen = zoo.group(group)
        added = _with_progress(
            "files", len(files), lambda progress: import_rows_safetensors(chosen, files, progress)
        )
        total = len(chosen)
    _report(added, files[0], "files", group, total)


@user_errors
def import_peft(
    path: ZooPath,
    backbone: Annotated[str, typer.Option(help="Backbone the adapters were trained on.")],
    task: Annotated[str, typer.Option(help="Task name; the group is lora/<backbone>/<task>.")],
    adapters: AdapterFolders = None,
    manifest: AdapterManifest = None,
    condition: AdapterCondition = None,
    metric: MetricOption = None,
    split: AdapterSplit = "train",
    run: Annotated[int, typer.Option(help="Training run id.")] = 0,
    step: Annotated[int, typer.Option(help="Training step of the checkpoints.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the run.")] = 0,
    create: CreateOption = False,
) -> None:
    """Append PEFT LoRA adapter folders to a zoo, one row each (group created if missing).

    All or nothing: every folder is read and checked (configs, keys, shapes, NaN) before one
    append writes them all.
    """
    rows = _import_rows(
        adapters, manifest, condition, metric, split=split, run=run, step=step, seed=seed
    )
    read = _with_progress(
        "adapter folders", len(rows.paths), lambda bar: read_peft_adapters(rows.paths, bar)
    )
    with open_for_writing(path, create) as zoo:
        group, added = append_peft_adapters(
            zoo,
            read,
            backbone=backbone,
            task=task,
            conditions=rows.conditions,
            metrics=rows.metrics,
            split=rows.split,
            run=rows.run,
            step=rows.step,
            seed=rows.seed,
        )
        total = len(group)
    _report(added, rows.paths[0], "adapters", group.name, total)


def _check_family(group: str, family: str | None) -> None:
    """``--family``, when given, must be the family GROUP's name starts with."""
    family_name = group_parts(group)[0]
    if family is not None and family != family_name:
        raise ParamgenError(
            f"--family {family} does not match group {group!r}, whose name starts with its family "
            f"{family_name!r}; drop --family or fix the group name"
        )


def _import_plain(path: Path, group: str, rows: ImportRows, keys: list[str] | None, create: bool):
    """Plain state dicts: the tensors matching the subset group's patterns, one row per file."""
    with open_for_writing(path, create) as zoo:
        chosen, added = _with_progress(
            "files",
            len(rows.paths),
            lambda progress: import_state_dicts(
                zoo,
                group,
                rows.paths,
                patterns=keys,
                conditions=rows.conditions,
                metrics=rows.metrics,
                progress=progress,
                split=rows.split,
                run=rows.run,
                step=rows.step,
                seed=rows.seed,
            ),
        )
        total = len(chosen)
    _report(added, rows.paths[0], "files", group, total)


@user_errors
def import_safetensors(
    path: ZooPath,
    group: SafetensorsGroup,
    files: SafetensorsFiles = None,
    family: FamilyCheck = None,
    keys: KeysOption = None,
    manifest: FileManifest = None,
    condition: FileCondition = None,
    metric: MetricOption = None,
    split: FileSplit = None,
    run: Annotated[int | None, typer.Option(help="Training run id (default 0).")] = None,
    step: Annotated[int | None, typer.Option(help="Training step (default 0).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the run (default 0).")] = None,
    create: CreateOption = False,
) -> None:
    """Append .safetensors files to a group, one row each (all or nothing).

    Files exported by `paramgen zoo export` or `paramgen generate` keep the conditions, metrics
    and provenance in their metadata. Plain state dicts of your own model become rows of a subset
    group: the tensors matching its patterns (parameters and buffers; the rest of the model is
    ignored), checked by name, shape and for NaN; the group is created from --keys and the first
    file if missing.
    """
    _check_family(group, family)
    given = {"split": split, "run": run, "step": step, "seed": seed}
    if manifest is None and files and all(is_exported(file) for file in files):
        _import_exported(
            path, group, files, create, keys=keys, condition=condition, metric=metric, **given
        )
        return
    provenance = {name: value for name, value in given.items() if value is not None}
    rows = _import_rows(
        files, manifest, condition, metric, what="safetensors file", column="file", **provenance
    )
    _import_plain(path, group, rows, keys, create)
