"""``paramgen zoo build …``: train checkpoints into a zoo (resumable, with progress bars).

Each command's options are its builder config's fields (``cli.config_options``): defaults and
help live in ``zoo.builders``, the backbone and style choices in their registries.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.config_options import ConfigOptions, with_config_options
from cli.errors import user_errors
from cli.progress import StageBars
from paramgen.backbones import backbone_names
from paramgen.data import STYLE_PARAMETERS
from paramgen.tasks import Task, resolve_task
from zoo.builders import (
    ContinuumConfig,
    DpiZooConfig,
    LoraZooConfig,
    MacZooConfig,
    SubsetZooConfig,
    build_dpi_zoo,
    build_lora_continuum,
    build_lora_zoo,
    build_mac_zoo,
    build_subset_zoo,
)
from zoo.builders.driver import RunReport
from zoo.builders.ray_runs import ScaleOut

__all__ = ["build_app", "build_with_progress"]

build_app = typer.Typer(help="Train checkpoints of a family into a zoo.", no_args_is_help=True)
_console = Console(emoji=False, highlight=False)
_BACKBONES = dict.fromkeys(backbone_names(), "")
_STYLES = dict.fromkeys(STYLE_PARAMETERS, "")
_SUBSET = SubsetZooConfig()
NewZoo = Annotated[Path, typer.Argument(help="Zoo file (created if missing).")]
_SCALE_OUT = ConfigOptions(ScaleOut(), into="scale_out")


def build_with_progress(
    build: Callable[..., object],
    zoo: Path,
    config: object,
    task: Task,
    count: int,
    scale_out: dict[str, object] | None = None,
) -> None:
    """Run a zoo builder with one progress step and one line per run as it is stored, its runs
    trained where ``scale_out`` (``ScaleOut``'s fields) says."""
    where = ScaleOut(**(scale_out or {}))
    execute = where.executor()
    runs, metric = f"runs ({task.condition or 'unconditional'})", task.metric
    with StageBars(_console) as bars:

        def report(run: RunReport) -> None:
            value = "the run" if run.value is None else f"{task.condition} {run.value:+g}"
            if run.scores is None:
                outcome = "already built"
            else:
                outcome = f"{metric} {run.scores[0]:.4g} … {run.scores[-1]:.4g} (first … last kept)"
            shard = f" → shard {run.shard}" if run.shard else ""
            bars.print(f"{value} ({run.split}): {outcome}{shard}")
            bars.advance(runs, count)

        build(zoo, config, on_run=report, execute=execute)
    if where.shards is not None:
        _console.print(
            f"the rows are in the shard files under {where.shards}; join them: "
            f"paramgen zoo merge {zoo} {where.shards}",
            soft_wrap=True,
            markup=False,
        )


@build_app.command("lora")
@user_errors
@with_config_options(
    ConfigOptions(LoraZooConfig(), choices={"backbone": _BACKBONES, "style": _STYLES}),
    _SCALE_OUT,
)
def build_lora(zoo: NewZoo, *, overrides: dict[str, object], scale_out: dict[str, object]) -> None:
    """Fine-tune one LoRA per condition value and store each run's last checkpoints (resumable)."""
    config = LoraZooConfig(**overrides)
    task = resolve_task(config.resolved_task())
    build_with_progress(build_lora_zoo, zoo, config, task, len(config.values), scale_out)
    _console.print(f"zoo {zoo}: LoRA group complete")


@build_app.command("lora-continuum")
@user_errors
@with_config_options(ConfigOptions(ContinuumConfig(), names={"value_a": "a", "value_b": "b"}))
def build_continuum(
    zoo: Annotated[Path, typer.Argument(help="Zoo file holding the source group.")],
    *,
    overrides: dict[str, object],
) -> None:
    """Write COUNT exact ΔW interpolations between two adapters of SOURCE (resumable)."""
    config = ContinuumConfig(**overrides)
    with StageBars(_console) as bars:
        build_lora_continuum(
            zoo, config, on_chunk=lambda done, total: bars.set("continuum adapters", total, done)
        )
    family, backbone, _ = config.source.split("/")
    _console.print(f"zoo {zoo}: group {family}/{backbone}/{config.task} complete")


@build_app.command("dpi")
@user_errors
@with_config_options(
    ConfigOptions(DpiZooConfig(), choices={"backbone": _BACKBONES, "style": _STYLES}),
    _SCALE_OUT,
)
def build_dpi(zoo: NewZoo, *, overrides: dict[str, object], scale_out: dict[str, object]) -> None:
    """Train one DPI denoiser per style value and store each run's last checkpoints (resumable)."""
    config = DpiZooConfig(**overrides)
    build_with_progress(build_dpi_zoo, zoo, config, config.task, len(config.values), scale_out)
    _console.print(f"zoo {zoo}: group dpi/{config.backbone}/{config.style} complete")


@build_app.command("mac")
@user_errors
@with_config_options(ConfigOptions(MacZooConfig(), choices={"backbone": _BACKBONES}), _SCALE_OUT)
def build_mac(zoo: NewZoo, *, overrides: dict[str, object], scale_out: dict[str, object]) -> None:
    """Fine-tune one MAC coefficient net per NFE from a shared anchor; store each run's last
    checkpoints (resumable)."""
    config = MacZooConfig(**overrides)
    build_with_progress(build_mac_zoo, zoo, config, config.task, len(config.nfes), scale_out)
    _console.print(f"zoo {zoo}: group mac/{config.backbone}/nfe complete")


@build_app.command("subset")
@user_errors
@with_config_options(ConfigOptions(_SUBSET, exclude=("patterns", "task")), _SCALE_OUT)
def build_subset(
    zoo: NewZoo,
    keys: Annotated[
        list[str] | None,
        typer.Option(
            help="Name pattern of the tensors to keep (repeat for more). Default: "
            f"{' '.join(_SUBSET.patterns)} (the default task's last layer)."
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="Your own task, package.module:object (default: the built-in unconditional "
            "digits classification on digits-cnn)."
        ),
    ] = None,
    *,
    overrides: dict[str, object],
    scale_out: dict[str, object],
) -> None:
    """Keep training a task's model with only KEYS free and store them every EVERY steps
    (p-diff's checkpoint collection; resumable)."""
    config = SubsetZooConfig(
        patterns=tuple(keys or _SUBSET.patterns), task=task or _SUBSET.task, **overrides
    )
    chosen = resolve_task(config.task)
    build_with_progress(
        build_subset_zoo, zoo, config, chosen, max(1, len(config.values)), scale_out
    )
    _console.print(f"zoo {zoo}: subset group complete")
