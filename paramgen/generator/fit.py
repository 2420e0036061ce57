"""The fit loop: the autoencoder stage, then the latent denoiser stage, checkpointed and resumable.

Both stages run the same AdamW loop with a cosine learning-rate decay (:func:`optimise`). A fit
given a checkpoint file saves there every ``every`` steps and at the end of each stage; a fit that
finds its own checkpoint skips the finished stages and resumes the current one at the next step
with the saved optimiser, schedule and random state, so it ends with the same weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from paramgen.generator.checkpoint import FitCheckpoint, Resume
from paramgen.generator.collective import SOLO, Collective
from paramgen.generator.row_codes import principal_basis
from paramgen.generator.rows import NormalizedRows

if TYPE_CHECKING:
    from paramgen.generator.model import ParamGenerator

__all__ = [
    "STAGES",
    "FitRun",
    "Progress",
    "optimise",
    "per_process",
    "train_autoencoder",
    "train_denoiser",
]

Progress = Callable[[str, int, int, float], None]
"""``on_progress(stage, step, steps, loss)``, called after every training step."""

STAGES = ("autoencoder", "denoiser")


@dataclass
class FitRun:
    """What every training stage of one fit shares: its random stream, checkpointing, the
    processes it runs on and ``step_config``, the config with this process's per-step sizes."""

    rng: torch.Generator
    on_progress: Progress | None
    step_config: Any
    checkpoint: FitCheckpoint | None = None
    every: int = 100
    resume: Resume | None = None
    collective: Collective = SOLO


def per_process(config: Any, collective: Collective) -> Any:
    """The GeneratorConfig ``config`` with this process's share of each step's rows (and, for
    a tokenized generator, tokens): N processes with B/N rows each take steps on B rows."""
    changes = {"batch_size": collective.share(config.batch_size, "batch_size")}
    if config.architecture == "tokens":
        changes["tokens_per_step"] = collective.share(config.tokens_per_step, "tokens_per_step")
    return replace(config, **changes)


def optimise(
    generator: ParamGenerator,
    stage: str,
    modules: Sequence[nn.Module],
    *,
    lr: float,
    weight_decay: float,
    steps: int,
    loss_of_step: Callable[[], torch.Tensor],
    run: FitRun,
) -> None:
    """AdamW on ``modules``' parameters with a cosine learning-rate decay over ``steps`` steps
    of ``loss_of_step`` (its gradients averaged over the fit's processes)."""
    parameters = list({id(p): p for m in modules for p in m.parameters()}.values())
    optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    first = 1
    if run.resume is not None:
        ahead = STAGES.index(run.resume.stage) - STAGES.index(stage)
        if ahead > 0:
            return  # finished before the checkpoint; its weights came with the model state
        if ahead == 0:
            rank = run.collective.rank
            FitCheckpoint.restore_training(run.resume, optimiser, schedule, run.rng, rank)
            first = run.resume.step + 1
    synchronised_loss = run.collective.synchronised(modules, loss_of_step)
    for step in range(first, steps + 1):
        loss = synchronised_loss()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if run.checkpoint is not None and (step % run.every == 0 or step == steps):
            states = run.collective.gather(run.rng.get_state()[None])  # every process's stream
            if run.collective.rank == 0:
                run.checkpoint.save(stage, step, generator, optimiser, schedule, states)
        if run.on_progress:
            run.on_progress(stage, step, steps, loss.item())


def train_autoencoder(generator: ParamGenerator, rows: NormalizedRows, run: FitRun) -> torch.Tensor:
    """Fit the autoencoder to normalised ``rows``, then the latents' mean and spread; returns the
    standardised latents [N, *latent_shape] of every row (encoded a chunk of rows at a time)."""
    config, rng, autoencoder = generator.config, run.rng, generator.autoencoder

    def reconstruction_loss() -> torch.Tensor:
        return autoencoder.training_loss(rows, run.step_config, rng)

    autoencoder.train()
    optimise(
        generator,
        "autoencoder",
        [autoencoder],
        lr=config.ae_lr,
        weight_decay=2e-6,
        steps=config.ae_steps,
        loss_of_step=reconstruction_loss,
        run=run,
    )
    autoencoder.eval()
    with torch.no_grad():
        latents = torch.cat([autoencoder.encode(chunk) for chunk in rows.chunks()])
        # [N·items, L]: per-dimension statistics over every item of every process's rows
        flat, total = latents.flatten(0, -2).double(), run.collective.sum
        count = total(torch.tensor(float(len(flat)), dtype=torch.float64))
        mean = total(flat.sum(dim=0)) / count
        variance = (total(flat.square().sum(dim=0)) - count * mean.square()) / (count - 1)
        generator.latent_mean.copy_(mean)
        generator.latent_std.copy_(variance.clamp_min(0).sqrt().clamp_min(1e-4))
        return (latents - generator.latent_mean) / generator.latent_std


def train_denoiser(
    generator: ParamGenerator,
    latents: torch.Tensor,
    conditions: Mapping[str, torch.Tensor],
    run: FitRun,
) -> None:
    """Fit the latent denoiser on the path to standardised ``latents`` [N, *latent_shape],
    dropping the condition for a share of the rows; with row codes, their denoiser beside it
    (the item denoiser is told each row's true code)."""
    config, rng = generator.config, run.rng
    rows = generator.autoencoder.rows_per_step(run.step_config)
    codes = None
    if generator.row_codes is not None:
        # Its own draw, not the fit's stream: a resumed fit finds the same basis; from every
        # process's latents, so each finds the same one.
        draw = torch.Generator().manual_seed(config.seed)
        basis = principal_basis(run.collective.gather(latents), generator.code_dim, draw)
        for name, value in zip(("code_mean", "code_directions", "code_scale"), basis, strict=True):
            getattr(generator, name).copy_(value)
        codes = basis.codes(latents)

    def path_loss() -> torch.Tensor:
        index = torch.randint(len(latents), (rows,), generator=rng)
        batch = {name: value[index] for name, value in conditions.items()}
        inputs = generator.condition_encoder.training_inputs(batch, rng)
        drop = torch.rand(rows, generator=rng) < config.condition_dropout
        items, ids = generator.autoencoder.training_items(latents, index, run.step_config, rng)
        embedding = generator.condition_embedding(inputs, rows, drop)
        row_codes = None if codes is None else codes[index]
        context = generator.item_context(embedding, row_codes, ids)
        loss = _path_loss(generator, generator.denoiser, items, context, rng)
        if row_codes is not None:
            loss = loss + _path_loss(generator, generator.row_codes, row_codes, embedding, rng)
        return loss

    trainable = [
        generator.denoiser,
        generator.condition_encoder,
        nn.ParameterList([generator.null_condition]),
        generator.context,
        *([generator.row_codes] if generator.row_codes is not None else []),
    ]
    generator.denoiser.train()
    optimise(
        generator,
        "denoiser",
        trainable,
        lr=config.denoiser_lr,
        weight_decay=0.0,
        steps=config.denoiser_steps,
        loss_of_step=path_loss,
        run=run,
    )
    generator.denoiser.eval()


def _path_loss(
    generator: ParamGenerator,
    model: torch.nn.Module,
    targets: torch.Tensor,
    condition: torch.Tensor,
    rng: torch.Generator,
) -> torch.Tensor:
    """``model``'s loss on the path at a random time, from fresh noise to ``targets``."""
    noise = torch.randn(targets.shape, generator=rng)
    sample = generator.path.sample_training(targets, noise, rng)
    return F.mse_loss(model(sample.x_t, sample.t, condition=condition), sample.target)
