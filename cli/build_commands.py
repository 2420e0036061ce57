"""``paramgen zoo build …``: train checkpoints into a zoo (resumable, with progress bars)."""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.errors import user_errors
from cli.progress import StageBars
from paramgen.errors import ParamgenError
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

__all__ = [
    "build_app",
    "build_lora_with_progress",
    "build_with_progress",
    "parse_nfes",
    "parse_values",
]

build_app = typer.Typer(help="Train checkpoints of a family into a zoo.", no_args_is_help=True)
_console = Console(emoji=False, highlight=False)
_DEFAULT = LoraZooConfig()
_DPI = DpiZooConfig()
_MAC = MacZooConfig()
_SUBSET = SubsetZooConfig()


class Init(StrEnum):
    chain = "chain"
    per_run = "per-run"
    shared = "shared"


InitOption = Annotated[
    Init,
    typer.Option(
        help="chain (each run warm-starts from its training neighbour: smooth in the condition), "
        "per-run (independent runs) or shared (one start, or trained anchor, for all)."
    ),
]


def parse_values(text: str) -> tuple[float, ...]:
    """``"-90:90:5"`` (inclusive range) or ``"-60,-30,30"`` → a tuple of finite floats."""
    try:
        numbers = [float(part) for part in text.split(":" if ":" in text else ",")]
        if not all(math.isfinite(n) for n in numbers):
            raise ValueError
        if ":" in text:
            start, stop, step = numbers
            if step <= 0:
                raise ValueError
            count = int(round((stop - start) / step)) + 1
            return tuple(round(start + i * step, 10) for i in range(count))
        return tuple(numbers)
    except ValueError:
        raise ParamgenError(
            f"values {text!r} must be START:STOP:STEP (STEP > 0) or a comma-separated list of "
            "finite numbers"
        ) from None


def parse_nfes(text: str, name: str = "nfes") -> tuple[int, ...]:
    """``"3,4,5,6,8"`` or ``"3:6:1"`` → a tuple of integers (sampler step counts)."""
    values = parse_values(text) if text.strip() else ()
    if any(not v.is_integer() for v in values):
        raise ParamgenError(f"{name} must be whole step counts, got {text!r}")
    return tuple(int(v) for v in values)


def build_with_progress(
    build: Callable[..., object], zoo: Path, config: object, task: Task, count: int
) -> None:
    """Run a zoo builder with one progress step and one line per condition value."""
    runs, metric = f"runs ({task.condition or 'unconditional'})", task.metric
    with StageBars(_console) as bars:

        def report(run: RunReport) -> None:
            value = "the run" if run.value is None else f"{task.condition} {run.value:+g}"
            if run.scores is None:
                outcome = "already built"
            else:
                outcome = f"{metric} {run.scores[0]:.4g} … {run.scores[-1]:.4g} (first … last kept)"
            bars.print(f"{value} ({run.split}): {outcome}")
            bars.advance(runs, count)

        build(zoo, config, on_run=report)


def build_lora_with_progress(zoo: Path, config: LoraZooConfig) -> None:
    """Run the LoRA zoo builder with one progress step per condition value."""
    task = resolve_task(config.resolved_task())
    build_with_progress(build_lora_zoo, zoo, config, task, len(config.values))


@build_app.command("lora")
@user_errors
def build_lora(
    zoo: Annotated[Path, typer.Argument(help="Zoo file (created if missing).")],
    style: Annotated[
        str, typer.Option(help="Style parameter: rotation, stroke, contrast or shear.")
    ] = _DEFAULT.style,
    values: Annotated[
        str, typer.Option(help="Style values: START:STOP:STEP or a comma list.")
    ] = "-90:90:5",
    heldout_bin: Annotated[
        float, typer.Option(help="Width of the alternating train/held-out bins, centred on 0.")
    ] = _DEFAULT.heldout_bin,
    rank: Annotated[int, typer.Option(help="LoRA rank r.")] = _DEFAULT.rank,
    alpha: Annotated[float, typer.Option(help="LoRA alpha (scaling alpha/r).")] = _DEFAULT.alpha,
    steps: Annotated[int, typer.Option(help="Fine-tuning steps per run.")] = _DEFAULT.steps,
    keep_last: Annotated[
        int, typer.Option(help="Checkpoints kept from the end of each run.")
    ] = _DEFAULT.keep_last,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = _DEFAULT.lr,
    seed: Annotated[
        int, typer.Option(help="Seed of the base weights and of every run.")
    ] = _DEFAULT.seed,
    method: Annotated[
        str,
        typer.Option(
            help="batched (vmap, faster on CPU) or sequential (one peft model at a time)."
        ),
    ] = _DEFAULT.method,
    backbone: Annotated[
        str, typer.Option(help="Built-in classifier backbone.")
    ] = _DEFAULT.backbone,
    task: Annotated[
        str | None,
        typer.Option(
            help="Your own task, package.module:object (a paramgen Task); replaces --style and "
            "--backbone. Give --targets with it."
        ),
    ] = None,
    targets: Annotated[
        str | None,
        typer.Option(help="LoRA target modules, comma-separated (default: the backbone's)."),
    ] = None,
    init: InitOption = Init.chain,
) -> None:
    """Fine-tune one LoRA per condition value and store each run's last checkpoints (resumable)."""
    config = LoraZooConfig(
        task=task,
        targets=tuple(t.strip() for t in targets.split(",") if t.strip()) if targets else (),
        init=init.value,
        backbone=backbone,
        style=style,
        values=parse_values(values),
        heldout_bin=heldout_bin,
        rank=rank,
        alpha=alpha,
        steps=steps,
        keep_last=keep_last,
        lr=lr,
        seed=seed,
        method=method,  # type: ignore[arg-type]
    )
    build_lora_with_progress(zoo, config)
    _console.print(f"zoo {zoo}: LoRA group complete")


@build_app.command("lora-continuum")
@user_errors
def build_continuum(
    zoo: Annotated[Path, typer.Argument(help="Zoo file holding the source group.")],
    source: Annotated[str, typer.Option(help="Source LoRA group.")] = ContinuumConfig.source,
    value_a: Annotated[
        float, typer.Option("--a", help="Style value of endpoint A (λ = 0).")
    ] = ContinuumConfig.value_a,
    value_b: Annotated[
        float, typer.Option("--b", help="Style value of endpoint B (λ = 1).")
    ] = ContinuumConfig.value_b,
    count: Annotated[
        int, typer.Option(help="Number of adapters (λ = k/count).")
    ] = ContinuumConfig.count,
    task: Annotated[str, typer.Option(help="Task name of the new group.")] = ContinuumConfig.task,
) -> None:
    """Write COUNT exact ΔW interpolations between two adapters of SOURCE (resumable)."""
    config = ContinuumConfig(
        source=source, value_a=value_a, value_b=value_b, count=count, task=task
    )
    with StageBars(_console) as bars:
        build_lora_continuum(
            zoo, config, on_chunk=lambda done, total: bars.set("continuum adapters", total, done)
        )
    family, backbone, _ = source.split("/")
    _console.print(f"zoo {zoo}: group {family}/{backbone}/{task} complete")


@build_app.command("dpi")
@user_errors
def build_dpi(
    zoo: Annotated[Path, typer.Argument(help="Zoo file (created if missing).")],
    style: Annotated[
        str, typer.Option(help="Style parameter: rotation, stroke, contrast or shear.")
    ] = _DPI.style,
    values: Annotated[
        str, typer.Option(help="Style values: START:STOP:STEP or a comma list.")
    ] = "-1:1:0.25",
    heldout: Annotated[
        str, typer.Option(help="Held-out style values (a comma list of VALUES; '' for none).")
    ] = ",".join(f"{v:g}" for v in _DPI.heldout),
    steps: Annotated[int, typer.Option(help="Training steps per DPI.")] = _DPI.steps,
    keep_last: Annotated[
        int, typer.Option(help="Checkpoints kept from the end of each run.")
    ] = _DPI.keep_last,
    lr: Annotated[
        float, typer.Option(help="Adam learning rate of the weights (λ's logits: 100x).")
    ] = _DPI.lr,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = _DPI.batch_size,
    table_size: Annotated[int, typer.Option(help="Entries of the λ table.")] = _DPI.table_size,
    seed: Annotated[
        int, typer.Option(help="Seed of the base weights and of every run.")
    ] = _DPI.seed,
    backbone: Annotated[
        str, typer.Option(help="Built-in unconditional denoiser backbone.")
    ] = _DPI.backbone,
    init: InitOption = Init.shared,
) -> None:
    """Train one DPI denoiser per style value and store each run's last checkpoints (resumable)."""
    config = DpiZooConfig(
        backbone=backbone,
        style=style,
        values=parse_values(values),
        heldout=parse_values(heldout) if heldout.strip() else (),
        steps=steps,
        keep_last=keep_last,
        lr=lr,
        batch_size=batch_size,
        table_size=table_size,
        seed=seed,
        init=init.value,
    )
    build_with_progress(build_dpi_zoo, zoo, config, config.task, len(config.values))
    _console.print(f"zoo {zoo}: group dpi/{backbone}/{style} complete")


@build_app.command("mac")
@user_errors
def build_mac(
    zoo: Annotated[Path, typer.Argument(help="Zoo file (created if missing).")],
    nfes: Annotated[
        str, typer.Option(help="Sampler step counts (NFE): START:STOP:STEP or a comma list.")
    ] = ",".join(str(n) for n in _MAC.nfes),
    heldout: Annotated[
        str, typer.Option(help="Held-out NFEs (a comma list of NFES; '' for none).")
    ] = ",".join(str(n) for n in _MAC.heldout),
    anchor_iterations: Annotated[
        int, typer.Option(help="Minibatches of the shared anchor net (training NFEs in turn).")
    ] = _MAC.anchor_iterations,
    iterations: Annotated[
        int, typer.Option(help="Fine-tuning minibatches of each NFE's net.")
    ] = _MAC.iterations,
    keep_last: Annotated[
        int, typer.Option(help="Checkpoints kept from the end of each run.")
    ] = _MAC.keep_last,
    lr: Annotated[float, typer.Option(help="Adam learning rate of the anchor.")] = _MAC.lr,
    finetune_lr: Annotated[
        float, typer.Option(help="Adam learning rate of the fine-tunes.")
    ] = _MAC.finetune_lr,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = _MAC.batch_size,
    scale: Annotated[float, typer.Option(help="MAC weight bound s (|w| <= s).")] = _MAC.scale,
    hidden: Annotated[int, typer.Option(help="Width of the coefficient conv net.")] = _MAC.hidden,
    depth: Annotated[int, typer.Option(help="Hidden conv layers.")] = _MAC.depth,
    samples: Annotated[int, typer.Option(help="Images per Fréchet distance.")] = _MAC.samples,
    seed: Annotated[
        int, typer.Option(help="Seed of the flow model, the initial net and every run.")
    ] = _MAC.seed,
    backbone: Annotated[
        str, typer.Option(help="Built-in linear-path flow (velocity) backbone.")
    ] = _MAC.backbone,
    init: InitOption = Init.shared,
) -> None:
    """Fine-tune one MAC coefficient net per NFE from a shared anchor; store each run's last
    checkpoints (resumable)."""
    config = MacZooConfig(
        backbone=backbone,
        nfes=parse_nfes(nfes),
        heldout=parse_nfes(heldout, "heldout"),
        anchor_iterations=anchor_iterations,
        iterations=iterations,
        keep_last=keep_last,
        lr=lr,
        finetune_lr=finetune_lr,
        batch_size=batch_size,
        scale=scale,
        hidden=hidden,
        depth=depth,
        samples=samples,
        seed=seed,
        init=init.value,
    )
    build_with_progress(build_mac_zoo, zoo, config, config.task, len(config.nfes))
    _console.print(f"zoo {zoo}: group mac/{backbone}/nfe complete")


@build_app.command("subset")
@user_errors
def build_subset(
    zoo: Annotated[Path, typer.Argument(help="Zoo file (created if missing).")],
    keys: Annotated[
        list[str] | None,
        typer.Option(
            help="Name pattern of the tensors to keep (repeat for more). Default: fc2.* "
            "(digits-cnn's last layer)."
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="Your own task, package.module:object (default: the built-in unconditional "
            "digits classification on digits-cnn)."
        ),
    ] = None,
    values: Annotated[
        str | None, typer.Option(help="Condition values of a conditioned task (one run each).")
    ] = None,
    heldout: Annotated[
        str | None, typer.Option(help="Held-out values (a comma list of VALUES).")
    ] = None,
    checkpoints: Annotated[
        int, typer.Option(help="Checkpoints kept per run (p-diff: 200-300).")
    ] = _SUBSET.checkpoints,
    every: Annotated[int, typer.Option(help="Steps between kept checkpoints.")] = _SUBSET.every,
    warmup: Annotated[
        int, typer.Option(help="Training steps before the first kept checkpoint.")
    ] = _SUBSET.warmup,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = _SUBSET.lr,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = _SUBSET.batch_size,
    seed: Annotated[int, typer.Option(help="Seed of the base weights and runs.")] = _SUBSET.seed,
    init: InitOption = Init.per_run,
) -> None:
    """Keep training a task's model with only KEYS free and store them every EVERY steps
    (p-diff's checkpoint collection; resumable)."""
    config = SubsetZooConfig(
        patterns=tuple(keys or _SUBSET.patterns),
        task=task or _SUBSET.task,
        values=parse_values(values) if values else (),
        heldout=parse_values(heldout) if heldout else (),
        checkpoints=checkpoints,
        every=every,
        warmup=warmup,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        init=init.value,
    )
    chosen = resolve_task(config.task)
    build_with_progress(build_subset_zoo, zoo, config, chosen, max(1, len(config.values)))
    _console.print(f"zoo {zoo}: subset group complete")
