"""``paramgen zoo …``: inspect a zoo, and move weights in and out of it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.errors import user_errors
from cli.progress import StageBars
from paramgen.errors import ParamgenError
from paramgen.families.subset import SubsetFamily
from zoo.backbone_io import read_state_dict, store_backbone_weights
from zoo.import_manifest import ImportRows, read_import_manifest
from zoo.peft_io import append_peft_adapters, export_peft_adapter, read_peft_adapters
from zoo.safetensors_io import export_row_safetensors, import_rows_safetensors, is_exported
from zoo.state_dict_io import import_state_dicts
from zoo.store import Zoo, group_parts
from zoo.summary import summarize, summarize_backbones

__all__ = ["zoo_app", "parse_assignments", "parse_spec"]

zoo_app = typer.Typer(
    help="Inspect a model zoo (HDF5) and import or export its weights.", no_args_is_help=True
)
_console = Console(emoji=False, highlight=False)

ZooPath = Annotated[Path, typer.Argument(help="Path of the zoo .h5 file.")]
CreateOption = Annotated[bool, typer.Option(help="Create the zoo file if it does not exist.")]
# Fewer folders or files than this are read in a blink: no progress bar.
_PROGRESS_FROM = 4
T = TypeVar("T")


class ExportFormat(StrEnum):
    peft = "peft"
    safetensors = "safetensors"


def _format(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.4g}"


def parse_assignments(values: list[str], what: str) -> dict[str, float | list[float]]:
    """``["angle=30", "rgb=0.1,0.2"]`` → ``{"angle": 30.0, "rgb": [0.1, 0.2]}``."""
    parsed: dict[str, float | list[float]] = {}
    for item in values:
        name, sep, text = item.partition("=")
        try:
            numbers = [float(part) for part in text.split(",")]
        except ValueError:
            numbers = []
        if not sep or not name or not numbers:
            raise ParamgenError(f"{what} {item!r} must look like NAME=NUMBER or NAME=N1,N2,…")
        parsed[name] = numbers[0] if len(numbers) == 1 else numbers
    return parsed


def parse_spec(values: list[str]) -> dict[str, str]:
    """``["arch=mlp", "seed=0"]`` → ``{"arch": "mlp", "seed": "0"}`` (values stay text)."""
    parsed: dict[str, str] = {}
    for item in values:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ParamgenError(f"--spec {item!r} must look like KEY=VALUE")
        parsed[key.strip()] = text
    return parsed


@contextmanager
def _open_for_writing(path: Path, create: bool) -> Iterator[Zoo]:
    """The zoo opened for writing; with ``create``, a new file where none exists — removed again
    when the command fails with a user error, so a refused import leaves no empty zoo behind."""
    new = create and not path.exists()
    try:
        with Zoo.create(path) if new else Zoo.open(path, mode="a") as zoo:
            yield zoo
    except ParamgenError:
        if new:
            path.unlink(missing_ok=True)
        raise


@zoo_app.command("info")
@user_errors
def info(path: ZooPath) -> None:
    """Show each group of a zoo: rows, D, conditions, metrics, splits and base weights."""
    with Zoo.open(path) as zoo:
        summaries = summarize(zoo)
        stored = summarize_backbones(zoo)
    backbones = [b.name for b in stored]
    _console.print(
        f"[bold]{escape(str(path))}[/]: {len(summaries)} group(s); "
        f"base weights for {escape(str(backbones or 'none'))}"
    )
    for s in summaries:
        table = Table(title=s.name, title_justify="left", show_header=False, box=box.SIMPLE)
        table.add_column("field", style="dim")
        table.add_column("value", overflow="fold")
        splits = ", ".join(f"{label} {count}" for label, count in s.splits.items())
        table.add_row("family", s.family)
        table.add_row("rows", f"{s.rows}" + (f" ({splits})" if splits else ""))
        table.add_row("D", f"{s.dim:,} parameters per row")
        for name, (lo, hi) in s.conditions.items():
            table.add_row(f"condition {name}", f"{_format(lo)} … {_format(hi)}")
        for name, mean in s.metrics.items():
            table.add_row(f"metric {name}", f"mean {_format(mean)}")
        table.add_row("base weights", f"sha256 {s.base_weights}")
        _console.print(table)
    if stored:
        table = Table(title="base weights", title_justify="left", show_header=False, box=box.SIMPLE)
        table.add_column("backbone", style="dim")
        table.add_column("value", overflow="fold")
        for b in stored:
            table.add_row(escape(b.name), f"sha256 {b.sha256}")
            table.add_row("", f"{b.tensors} tensors, {b.values:,} values")
        _console.print(table)


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


@zoo_app.command("import-peft")
@user_errors
def import_peft(
    path: ZooPath,
    backbone: Annotated[str, typer.Option(help="Backbone the adapters were trained on.")],
    task: Annotated[str, typer.Option(help="Task name; the group is lora/<backbone>/<task>.")],
    adapters: Annotated[
        list[Path] | None,
        typer.Argument(
            help="PEFT adapter folders (adapter_config.json + adapter_model.safetensors); "
            "or give --manifest instead.",
            show_default=False,
        ),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            help="CSV with a header and one row per folder: folder (relative to the CSV or "
            "absolute), optional split, run, step, seed, and condition.NAME (a vector as N1;N2) "
            "and metric.NAME (empty: not measured) columns."
        ),
    ] = None,
    condition: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=VALUE for every folder (repeat; VALUE may be N1,N2,… for vectors). "
            "None: an unconditional group."
        ),
    ] = None,
    metric: Annotated[list[str] | None, typer.Option(help="NAME=VALUE (repeat).")] = None,
    split: Annotated[
        str, typer.Option(help="train, heldout or generated (with --manifest: where it is empty).")
    ] = "train",
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
    with _open_for_writing(path, create) as zoo:
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


@zoo_app.command("store-backbone")
@user_errors
def store_backbone(
    path: ZooPath,
    name: Annotated[str, typer.Argument(help="Backbone name, as in import-peft --backbone NAME.")],
    weights: Annotated[
        Path,
        typer.Argument(
            help="A plain state-dict .safetensors file, as "
            "safetensors.torch.save_file(model.state_dict(), path) writes it."
        ),
    ],
    spec: Annotated[
        list[str] | None,
        typer.Option(help="KEY=VALUE to record with the weights (repeat), e.g. arch=mlp-2x64."),
    ] = None,
    create: CreateOption = False,
) -> None:
    """Store a backbone's base weights under /backbones/NAME with their sha256 (idempotent).

    The sha256 covers the tensors' names, shapes, dtypes and bytes — not the file's bytes.
    """
    given = {"file": weights.name} | parse_spec(spec or [])
    tensors = read_state_dict(weights)
    with _open_for_writing(path, create) as zoo:
        stored = store_backbone_weights(zoo, name, tensors, given)
    verb = "already held identical" if stored.already_stored else "stored"
    _console.print(
        f"{escape(str(path))}: {verb} base weights of backbone {escape(name)} "
        f"({stored.tensors} tensors, {stored.values:,} values)",
        soft_wrap=True,
    )
    _console.print(f"sha256 {stored.sha256}", soft_wrap=True)


def _import_exported(path: Path, group: str, files: list[Path], create: bool, **given) -> None:
    """Files written by ``zoo export``: their own values, so none of ``given`` may be set."""
    options = sorted(f"--{name}" for name, value in given.items() if value not in (None, []))
    if options:
        raise ParamgenError(
            f"{files[0]} was written by `paramgen zoo export` and carries its own layout, "
            f"conditions, metrics and provenance; drop {', '.join(options)}"
        )
    with _open_for_writing(path, create) as zoo:
        chosen = zoo.group(group)
        added = _with_progress(
            "files", len(files), lambda progress: import_rows_safetensors(chosen, files, progress)
        )
        total = len(chosen)
    _report(added, files[0], "files", group, total)


@zoo_app.command("import-safetensors")
@user_errors
def import_safetensors(
    path: ZooPath,
    group: Annotated[
        str,
        typer.Argument(
            help=f"Group family/backbone/task; plain state dicts go to a "
            f"{SubsetFamily.name}/BACKBONE/TASK group."
        ),
    ],
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files exported by `paramgen zoo export` (their values come with them), or plain "
            "state dicts as safetensors.torch.save_file(model.state_dict(), path) writes them; "
            "or give --manifest instead.",
            show_default=False,
        ),
    ] = None,
    family: Annotated[
        str | None,
        typer.Option(help="Optional check: the family GROUP starts with."),
    ] = None,
    keys: Annotated[
        list[str] | None,
        typer.Option(
            help="Plain state dicts: name pattern (fnmatch) of the tensors to keep, e.g. 'head.*' "
            "(repeat). Needed to create the group; an existing group keeps its own."
        ),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            help="Plain state dicts: CSV with a header and one row per file: file (relative to "
            "the CSV or absolute), optional split, run, step, seed, and condition.NAME (a vector "
            "as N1;N2) and metric.NAME (empty: not measured) columns."
        ),
    ] = None,
    condition: Annotated[
        list[str] | None,
        typer.Option(
            help="Plain state dicts: NAME=VALUE for every file (repeat; VALUE may be N1,N2,… for "
            "vectors). None: an unconditional group."
        ),
    ] = None,
    metric: Annotated[list[str] | None, typer.Option(help="NAME=VALUE (repeat).")] = None,
    split: Annotated[
        str | None,
        typer.Option(
            help="train, heldout or generated (default train; with --manifest: where it is empty).",
            show_default=False,
        ),
    ] = None,
    run: Annotated[int | None, typer.Option(help="Training run id (default 0).")] = None,
    step: Annotated[int | None, typer.Option(help="Training step (default 0).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the run (default 0).")] = None,
    create: CreateOption = False,
) -> None:
    """Append .safetensors files to a group, one row each (all or nothing).

    Files exported by `paramgen zoo export` keep the conditions, metrics and provenance in their
    metadata. Plain state dicts of your own model become rows of a subset group: the tensors
    matching its patterns (parameters and buffers; the rest of the model is ignored), checked by
    name, shape and for NaN; the group is created from --keys and the first file if missing.
    """
    family_name = group_parts(group)[0]
    if family is not None and family != family_name:
        raise ParamgenError(
            f"--family {family} does not match group {group!r}, whose name starts with its family "
            f"{family_name!r}; drop --family or fix the group name"
        )
    given = {"split": split, "run": run, "step": step, "seed": seed}
    provenance = {name: value for name, value in given.items() if value is not None}
    if manifest is None and files and all(is_exported(file) for file in files):
        _import_exported(
            path, group, files, create, keys=keys, condition=condition, metric=metric, **given
        )
        return
    rows = _import_rows(
        files, manifest, condition, metric, what="safetensors file", column="file", **provenance
    )
    with _open_for_writing(path, create) as zoo:
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


@zoo_app.command("export")
@user_errors
def export(
    path: ZooPath,
    group: Annotated[str, typer.Argument(help="Group name family/backbone/task.")],
    out: Annotated[Path, typer.Option(help="Output folder (peft) or .safetensors file.")],
    row: Annotated[int, typer.Option(help="Row index (negative counts from the end).")] = 0,
    format: Annotated[
        ExportFormat,
        typer.Option(
            help="peft: an adapter folder for PeftModel.from_pretrained; "
            "safetensors: one file with metadata."
        ),
    ] = ExportFormat.peft,
) -> None:
    """Write one row of a group as a PEFT adapter folder or a safetensors file."""
    with Zoo.open(path) as zoo:
        chosen = zoo.group(group)
        if format is ExportFormat.peft:
            written = export_peft_adapter(chosen, row, out)
        else:
            written = export_row_safetensors(chosen, row, out)
    _console.print(f"wrote {written}")
