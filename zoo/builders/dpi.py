"""Style-DPI zoo: one DPI denoiser per style value, keeping each run's last K checkpoints.

Each run wraps a copy of the pretrained blind denoiser in a DPI over u, the position of log σ in
[0, 1] (θ0 = θ1 = the base weights at the start, as Park et al.), and trains it to predict the
noise on training digits of one style value, one σ per minibatch (DPI's fast path). A row is the
DPI's learnable tensors: θ0 and θ1 (every parameter of the U-Net, twice) and λ's logits — the
backbone has no buffers, so nothing else is needed to rebuild it (``dpi_from_row``). Its condition
is the style value, its metric the noise-scaled denoising MSE on that style's test digits
(``denoising_mse``). Held-out style values are named explicitly (``heldout``).

Documented subset of the paper's setting: the zoo wraps ``digits-unet-small`` (8 channels, ~18.4k
parameters) rather than the 196k ``digits-unet``, and λ is a 64-entry table rather than 1,000, so
that a row (2 × 18,385 + 63 = 36,833 numbers) stays small enough for the parameter autoencoder on
a CPU.

Every run shares the config's seed (λ's initial logits, minibatches, noise): two runs differ only
by their style value, so the weights change with it rather than with run-to-run noise, which is
what a generator interpolates. A run's rows are appended in one call, so a killed build loses at
most the run in flight, and a re-run skips finished values.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from paramgen.backbones import backbone_entry, build_backbone
from paramgen.data import STYLE_PARAMETERS, load_digits16
from paramgen.data.digits import DigitImages
from paramgen.errors import ParamgenError, check_names
from paramgen.families.dpi import DPI
from paramgen.schema import ParamSchema
from paramgen.training import SIGMA_MAX, SIGMA_MIN, train_denoiser
from zoo.builders.lora import base_model, styled
from zoo.store import Zoo

__all__ = [
    "DpiZooConfig",
    "build_dpi_zoo",
    "denoising_errors",
    "denoising_mse",
    "dpi_from_row",
    "dpi_tensors",
    "noise_position",
    "sigma_bins",
    "wrap_dpi",
]

Tensors = dict[str, torch.Tensor]
NOISE_SEED = 1234  # the fixed test noise of ``denoising_mse``


def _default_strokes() -> tuple[float, ...]:
    return tuple(-1.0 + 0.25 * i for i in range(9))


@dataclass(frozen=True)
class DpiZooConfig:
    """What to build: the style values, which are held out, and how each DPI is trained."""

    backbone: str = "digits-unet-small"  # an unconditional denoiser: forward(x)
    style: str = "stroke"
    values: tuple[float, ...] = field(default_factory=_default_strokes)
    heldout: tuple[float, ...] = (0.25,)  # values marked "heldout" (each one of ``values``)
    steps: int = 400
    keep_last: int = 5
    lr: float = 2e-3  # the weights' rate; λ's logits train at 100× (DPI.parameter_groups)
    batch_size: int = 64
    table_size: int = 64  # λ table entries (the paper uses 1,000; see the module docstring)
    seed: int = 0

    def __post_init__(self) -> None:
        backbone_entry(self.backbone)  # raises on an unknown name, listing the known ones
        if self.style not in STYLE_PARAMETERS:
            raise ParamgenError(
                f"unknown style {self.style!r}; choose one of {list(STYLE_PARAMETERS)}"
            )
        if not self.values or len(set(self.values)) != len(self.values):
            raise ParamgenError(f"style values must be non-empty and distinct, got {self.values}")
        strays = [v for v in self.heldout if not any(math.isclose(v, w) for w in self.values)]
        if strays:
            raise ParamgenError(
                f"held-out values {strays} are not among the style values {self.values}; add "
                "them to values or hold out one of those"
            )
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ParamgenError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.keep_last <= self.steps:
            raise ParamgenError(
                f"keep_last must be in 1..steps ({self.steps}), got {self.keep_last}"
            )
        if not self.lr > 0:
            raise ParamgenError(f"lr must be > 0, got {self.lr}")
        if self.table_size < 2:
            raise ParamgenError(f"table_size must be >= 2 (λ(0) and λ(1)), got {self.table_size}")

    def split_of(self, value: float) -> str:
        return "heldout" if any(math.isclose(value, v) for v in self.heldout) else "train"


def wrap_dpi(base: nn.Module, table_size: int) -> DPI:
    """A DPI of a copy of ``base`` over u ∈ [0, 1]: θ0 = θ1 = the base weights, λ's logits drawn
    from the global RNG."""
    return DPI(copy.deepcopy(base), s_min=0.0, s_max=1.0, table_size=table_size)


def dpi_tensors(dpi: DPI) -> Tensors:
    """A row's tensors: the learnable ones (theta0.*, theta1.*, lam.logits), detached copies."""
    return {name: p.detach().clone() for name, p in dpi.named_parameters()}


def dpi_from_row(tensors: Mapping[str, torch.Tensor], base: nn.Module, table_size: int) -> DPI:
    """The DPI a row describes, on a copy of ``base`` (its buffers, if any, come from there)."""
    dpi = wrap_dpi(base, table_size)
    params = dict(dpi.named_parameters())
    check_names(tensors, params, f"a DPI row of this backbone (table size {table_size}) has")
    with torch.no_grad():
        for name, param in params.items():
            if tensors[name].shape != param.shape:
                raise ParamgenError(
                    f"row tensor {name!r} has shape {tuple(tensors[name].shape)}, the DPI "
                    f"expects {tuple(param.shape)}; rebuild with the zoo's backbone and table size"
                )
            param.copy_(tensors[name])
    return dpi.eval()


def noise_position(sigma: float) -> float:
    """u ∈ [0, 1]: where log σ lies in [log SIGMA_MIN, log SIGMA_MAX] (what the DPI is fed)."""
    return (math.log(sigma) - math.log(SIGMA_MIN)) / (math.log(SIGMA_MAX) - math.log(SIGMA_MIN))


def sigma_bins(count: int = 8) -> torch.Tensor:
    """[count] centres of log-spaced σ bins over [SIGMA_MIN, SIGMA_MAX] (the training range)."""
    u = (torch.arange(count) + 0.5) / count
    return torch.exp(math.log(SIGMA_MIN) + u * (math.log(SIGMA_MAX) - math.log(SIGMA_MIN)))


@torch.no_grad()
def denoising_errors(model: nn.Module, data: DigitImages, sigmas: torch.Tensor) -> list[float]:
    """σ²·mean‖ε̂ − ε‖² on ``data`` at each of ``sigmas``.

    σ²·‖ε̂ − ε‖² is the squared error of the denoised image x − σε̂, so every noise level counts
    on the image's scale. ``model(x, u)``, u the position of log σ in [0, 1] as in training (a
    DPI, or a blind net that ignores u); images centred to [−1, 1]; the noise is drawn from a
    fixed seed so that every model is scored on the same noisy inputs.
    """
    model.eval()
    clean = data.images * 2 - 1
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(NOISE_SEED))
    errors = []
    for sigma in torch.as_tensor(sigmas, dtype=torch.float32).tolist():
        predicted = model(clean + sigma * noise, noise_position(sigma))
        errors.append(sigma**2 * F.mse_loss(predicted, noise).item())
    return errors


def denoising_mse(model: nn.Module, data: DigitImages, sigmas: torch.Tensor | None = None) -> float:
    """Mean of ``denoising_errors`` over ``sigmas`` (default: the 8 bin centres)."""
    errors = denoising_errors(model, data, sigma_bins() if sigmas is None else sigmas)
    return sum(errors) / len(errors)


def _check_denoiser(base: nn.Module, name: str) -> None:
    """A DPI calls its module as module(x): refuse a backbone that needs more, or maps elsewhere."""
    x = torch.zeros(1, 1, 16, 16)
    try:
        with torch.no_grad():
            shape = tuple(base(x).shape)
    except (TypeError, ValueError) as error:
        shape = f"an error ({error})"
    if shape != tuple(x.shape):
        raise ParamgenError(
            f"backbone {name!r} is not an unconditional denoiser: module(x) for x of shape "
            f"{tuple(x.shape)} gave {shape}; choose one such as 'digits-unet-small'"
        )


def _train_run(base: nn.Module, data: DigitImages, config: DpiZooConfig) -> list[Tensors]:
    """One DPI warm-started from ``base``, trained on ``data``; its last ``keep_last`` rows."""
    snapshots: list[Tensors] = []

    def keep_tail(step: int, dpi: nn.Module) -> None:
        if step > config.steps - config.keep_last:
            snapshots.append(dpi_tensors(dpi))

    torch.manual_seed(config.seed)  # λ's initial logits: the same for every run
    train_denoiser(
        wrap_dpi(base, config.table_size),
        data,
        steps=config.steps,
        lr=config.lr,
        batch_size=config.batch_size,
        seed=config.seed,
        sigma_per="batch",
        on_step=keep_tail,
    )
    return snapshots


def build_dpi_zoo(
    path: str | Path,
    config: DpiZooConfig = DpiZooConfig(),
    on_run: Callable[[float, float | None], None] | None = None,
) -> Path:
    """Build (or finish building) the style-DPI zoo at ``path``; returns the path.

    ``on_run(value, mse)`` is called once per style value with its last checkpoint's MSE
    (``None``: already built).
    """
    path = Path(path)
    _check_denoiser(build_backbone(config.backbone), config.backbone)  # before pretraining it
    train, test = load_digits16("train"), load_digits16("test")
    with Zoo.open(path, "a") if path.exists() else Zoo.create(path) as zoo:
        base = base_model(zoo, config.backbone, config.seed)
        template = wrap_dpi(base, config.table_size)
        schema = ParamSchema.from_state_dict(dpi_tensors(template))
        group = zoo.create_group(
            family="dpi",
            backbone=config.backbone,
            task=config.style,
            schema=schema,
            conditions={config.style: ()},
            metrics=["mse"],
            family_config=template.config(),
            backbone_spec={"name": config.backbone, "builder": asdict(config)},
            exist_ok=True,
        )
        for run, value in enumerate(config.values):
            if group.indices(**{config.style: value}).size >= config.keep_last:
                if on_run:
                    on_run(value, None)
                continue
            snapshots = _train_run(base, styled(train, config.style, value), config)
            test_digits = styled(test, config.style, value)
            scores = [
                denoising_mse(dpi_from_row(s, base, config.table_size), test_digits)
                for s in snapshots
            ]
            group.append(
                torch.stack([schema.flatten(s) for s in snapshots]),
                conditions={config.style: value},
                metrics={"mse": scores},
                run=run,
                step=list(range(config.steps - config.keep_last + 1, config.steps + 1)),
                seed=config.seed,
                split=config.split_of(value),
            )
            if on_run:
                on_run(value, scores[-1])
    return path
