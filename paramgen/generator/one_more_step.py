"""One More Step for a generator's latent DDPM path (:mod:`paramgen.solvers.one_more_step`).

The step is fit on what the generator's latent sampler produces: its standardised latents of the
training rows, one item per row (or per token), each with the context the latent denoiser is told
(condition embedding, row code, token position). Pass it to ``sample`` / ``sample_rows`` /
``sample_latents`` as ``first_step``. On the default linear schedule the latents' last step keeps
almost no data (√ᾱ_T = 0.006) and there is nothing to fix; on Stable Diffusion's it keeps 0.068.
"""

from __future__ import annotations

import torch

from paramgen.errors import ParamgenError
from paramgen.generator.config import TrainingSet
from paramgen.generator.latent_guidance import latent_space_id
from paramgen.generator.model import ParamGenerator
from paramgen.paths import DDPMPath
from paramgen.solvers import OneMoreStep, train_one_more_step

__all__ = [
    "check_latent_one_more_step",
    "fit_latent_one_more_step",
    "latent_items_and_context",
    "require_ddpm_path",
]


@torch.no_grad()
def latent_items_and_context(
    generator: ParamGenerator, data: TrainingSet, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(items [N·items, L], context [N·items, C]): ``data``'s standardised latents, one row per
    item the sampler draws, and the denoiser's context of each (condition dropped for none)."""
    latents = generator.encode(data.params)  # [N, *latent_shape]
    inputs = generator.condition_encoder.training_inputs(
        data.conditions, torch.Generator().manual_seed(seed)
    )
    embedding = generator.condition_embedding(inputs, len(latents), None)
    codes = generator.code_basis().codes(latents) if generator.row_codes is not None else None
    context = generator.item_context(embedding, codes, None)
    return latents.reshape(-1, latents.shape[-1]), context


def fit_latent_one_more_step(
    generator: ParamGenerator,
    data: TrainingSet,
    *,
    width: int = 128,
    drop_condition: float = 0.1,
    seed: int = 0,
    **training,
) -> OneMoreStep:
    """A One More Step for ``generator`` (which must sample a DDPM path), trained on its latents
    of ``data`` (the training set it was fit on); ``training``: steps, lr, batch_size, as
    :func:`paramgen.solvers.train_one_more_step`'s."""
    require_ddpm_path(generator)
    items, context = latent_items_and_context(generator, data, seed)
    torch.manual_seed(seed)
    step = OneMoreStep(
        (items.shape[-1],),
        condition_dim=context.shape[-1],
        width=width,
        fitted_on=latent_space_id(generator),
    )
    train_one_more_step(
        step, items, condition=context, drop_condition=drop_condition, seed=seed, **training
    )
    return step


def check_latent_one_more_step(generator: ParamGenerator, step: OneMoreStep) -> OneMoreStep:
    """``step``, if it was fit for ``generator``'s latents (a DDPM path, the same latent space);
    else a one-line error saying so."""
    require_ddpm_path(generator)
    if step.fitted_on != latent_space_id(generator):
        raise ParamgenError(
            "the One More Step was fit on another generator's latents; fit one on this "
            "generator (paramgen train-one-more-step)"
        )
    return step


def require_ddpm_path(generator: ParamGenerator) -> None:
    """Refuse, in one line, a generator that does not sample a DDPM path."""
    if not isinstance(generator.path, DDPMPath):
        raise ParamgenError(
            f"One More Step needs a generator on a DDPM path; this one samples along "
            f"{generator.config.path!r} (fit one with path='ddpm-scaled-linear', say)"
        )
