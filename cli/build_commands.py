"""``paramgen zoo build …``: train checkpoints into a zoo (resumable, with progress bars)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.errors import user_errors
from cli.progress import StageBars
from paramgen.errors import ParamgenError
from zoo.builders import (
    ContinuumConfig,
    DpiZooConfig,
    LoraZooConfig,
    MacZooConfig,
    build_dpi_zoo,
    build_lora_continuum,
    build_lora_zoo,
    build_mac_zoo,
)

__all__ = ["build_app", "build_lora_with_progress", "parse_nfes", "parse_values"]

build_app = typer.Typer(help="Train checkpoints of a family into a zoo.", no_args_is_help=True)
_console = Console(emoji=False, highlight=False)
_DEFAULT = LoraZooConfig()
_DPI = DpiZooConfig()
_MAC = MacZooConfig()


def parse_values(text: str) -> tuple[float, ...]:
    """``"-90:90:5"`` (inclusive range) or ``"-60,-30,30"`` → a tuple of floats."""
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            if step <= 0:
                raise ValueError
            count = int(round((stop - start) / step)) + 1
            return tuple(round(start + i * step, 10) for i in range(count))
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ParamgenError(
            f"values {text!r} must be START:STOP:STEP (STEP > 0) or a comma-separated list"
        ) from None


def parse_nfes(text: str, name: str = "nfes") -> tuple[int, ...]:
    """``"3,4,5,6,8"`` or ``"3:6:1"`` → a tuple of integers (sampler step counts)."""
    values = parse_values(text) if text.strip() else ()
    if any(not v.is_integer() for v in values):
        raise ParamgenError(f"{name} must be whole step counts, got {text!r}")
    return tuple(int(v) for v in values)


def build_lora_with_progress(zoo: Path, config: LoraZooConfig) -> None:
    """Run the LoRA zoo builder with one progress step per style value."""
    name = f"LoRA runs ({config.style})"
    with StageBars(_console) as bars:

        def report(value: float, best: float | None) -> None:
            outcome = "already built" if best is None else f"best accuracy {best:.3f}"
            bars.print(f"{config.style} {value:+g} ({config.split_of(value)}): {outcome}")
            bars.advance(name, len(config.values))

        build_lora_zoo(zoo, config, on_run=report)


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
) -> None:
    """Fine-tune one LoRA per style value and store each run's last checkpoints (resumable)."""
    config = LoraZooConfig(
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
    _console.print(f"zoo {zoo}: group lora/{backbone}/{style} complete")


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
    )
    name = f"DPI runs ({style})"
    with StageBars(_console) as bars:

        def report(value: float, mse: float | None) -> None:
            outcome = "already built" if mse is None else f"test MSE {mse:.5f}"
            bars.print(f"{style} {value:+g} ({config.split_of(value)}): {outcome}")
            bars.advance(name, len(config.values))

        build_dpi_zoo(zoo, config, on_run=report)
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
    )
    name = "MAC runs (nfe)"
    with StageBars(_console) as bars:

        def report(nfe: int, fd: float | None) -> None:
            outcome = "already built" if fd is None else f"FD {fd:.2f}"
            bars.print(f"nfe {nfe} ({config.split_of(nfe)}): {outcome}")
            bars.advance(name, len(config.nfes))

        build_mac_zoo(zoo, config, on_run=report)
    _console.print(f"zoo {zoo}: group mac/{backbone}/nfe complete")
