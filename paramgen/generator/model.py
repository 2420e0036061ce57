"""ParamGenerator: learn the distribution of a zoo group's weights, then sample new weights.

Pipeline (p-diff / Cond P-Diff): per-tensor z-scoring (around per-tensor means or the mean row)
→ a noise-augmented 1D-conv autoencoder → standardised latents → a conditional latent denoiser
trained on one of the registered paths (:mod:`paramgen.paths`) with classifier-free condition
dropout (the fit: :mod:`paramgen.generator.fit`) → sampling with the registered solvers and
classifier-free guidance (:mod:`paramgen.guidance`) → decode → un-normalise → unflatten. A
training set without conditions (p-diff: checkpoints of one model) gives an unconditional
generator (``NoConditionEncoder``); sampling it takes ``{}``.

Two architectures (:mod:`paramgen.generator.architectures`): ``whole-row`` encodes a row to one
latent; ``tokens`` (RPG) encodes each token of a row to its own latent and conditions the
denoiser on a per-token prototype, so a training step costs the same at any D. Rows are read a
minibatch at a time (:mod:`paramgen.generator.rows`): a training set may stream from its zoo.

Saved as a folder (:mod:`paramgen.persistence`): ``config.json`` (everything needed to rebuild
it) + ``model.safetensors``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch import nn

from paramgen.errors import ParamgenError
from paramgen.generator.architectures import ARCHITECTURES
from paramgen.generator.checkpoint import Fingerprint, FitCheckpoint
from paramgen.generator.collective import SOLO, Collective
from paramgen.generator.condition_checks import check_finite, report_outside_range
from paramgen.generator.conditions import CONDITION_ENCODERS, NoConditionEncoder
from paramgen.generator.config import GeneratorConfig, TrainingSet
from paramgen.generator.denoiser import LatentDenoiser
from paramgen.generator.fit import (
    FitRun,
    Progress,
    per_process,
    train_autoencoder,
    train_denoiser,
)
from paramgen.generator.normalization import TensorwiseNormalizer
from paramgen.generator.row_codes import CodeBasis
from paramgen.generator.rows import NormalizedRows, RowSource, checked_chunks
from paramgen.guidance import ClassifierFreeGuidance, Guide, MultiGuidance
from paramgen.paths import make_path
from paramgen.persistence import Pretrained, without_unknown
from paramgen.schema import ParamSchema
from paramgen.solvers import FirstStep
from paramgen.solvers import sample as solve

__all__ = ["FIT_CHECKPOINT", "ParamGenerator"]

FIT_CHECKPOINT = "fit-checkpoint.safetensors"  # beside config.json while a fit runs
_RANK_SEEDS = 1_000_003  # process k of a distributed fit draws from seed + k · this


MAX_SAMPLE_BYTES = 4 * 2**30
"""The most one ``sample_*`` call generates at once: n rows of D float32 numbers."""


class ParamGenerator(Pretrained, nn.Module):
    """Use ``ParamGenerator.fit`` to train one, ``from_pretrained`` to load one."""

    config_keys = ("condition_shapes", "config", "metadata", "schema", "schema_hash")
    optional_keys = frozenset({"metadata", "schema_hash"})
    mismatch_fix = "save the generator again"

    def __init__(
        self,
        config: GeneratorConfig,
        schema: ParamSchema,
        condition_shapes: Mapping[str, tuple[int, ...]],
        metadata: Mapping | None = None,
    ) -> None:
        super().__init__()
        self.config = config = config.for_dim(schema.dim)
        self.schema = schema
        self.condition_shapes = {k: tuple(v) for k, v in condition_shapes.items()}
        self.metadata = dict(metadata or {})
        self.path = make_path(config.path)
        self.normalizer = TensorwiseNormalizer(schema, config.centre)
        architecture = ARCHITECTURES[config.architecture]
        self.autoencoder = architecture.autoencoder(config, schema)
        self.register_buffer("latent_mean", torch.zeros(config.latent_dim))
        self.register_buffer("latent_std", torch.ones(config.latent_dim))
        # Without conditions there is nothing to encode, whichever encoder the config names.
        encoder = NoConditionEncoder
        if self.condition_shapes:
            encoder = CONDITION_ENCODERS[config.condition]
        self.condition_encoder = encoder(
            self.condition_shapes, config.condition_dim, config.examples
        )
        self.null_condition = nn.Parameter(torch.zeros(config.condition_dim))
        # Rows without conditions: a row code, sampled first by its own small denoiser.
        self.row_codes: LatentDenoiser | None = None
        self.code_dim = 0
        if architecture.row_codes and not self.condition_shapes and config.row_code_dim:
            self.code_dim = config.row_code_dim
            self.row_codes = LatentDenoiser(self.code_dim, config.condition_dim, config.width, 2)
            features = math.prod(self.autoencoder.latent_shape)  # the basis: set by the fit
            self.register_buffer("code_mean", torch.zeros(features))
            self.register_buffer("code_directions", torch.zeros(features, self.code_dim))
            self.register_buffer("code_scale", torch.ones(self.code_dim))
        self.context, context_dim = architecture.context(config, self.autoencoder, self.code_dim)
        self.denoiser = LatentDenoiser(config.latent_dim, context_dim, config.width, config.depth)

    # ------------------------------------------------------------------------------- training
    @classmethod
    def fit(
        cls,
        data: TrainingSet,
        config: GeneratorConfig | None = None,
        on_progress: Progress | None = None,
        checkpoint: str | Path | None = None,
        checkpoint_every: int = 100,
        collective: Collective = SOLO,
    ) -> ParamGenerator:
        """Train the autoencoder, then the latent denoiser, on ``data``.

        With ``collective`` a ``DistributedFit`` (every process of a torchrun group calls
        ``fit``), ``data`` holds this process's share of the rows; statistics are totalled over
        the processes and gradients averaged (see :mod:`paramgen.generator.collective`), each
        process draws ``batch_size / processes`` rows a step, and only rank 0 reports progress
        and writes the checkpoint. Every process returns the same generator.

        With ``checkpoint`` (a file path), the training state is saved there every
        ``checkpoint_every`` steps and at the end of each stage, and a fit that finds a checkpoint
        of the same config and rows resumes from it, ending with the same weights as an
        uninterrupted fit. The file is left in place; delete it once the generator is saved.
        """
        config = (config or GeneratorConfig()).for_dim(data.schema.dim)
        rows_in_all = int(collective.sum(torch.tensor(len(data.params))))
        if rows_in_all < 2 or not len(data.params):
            raise ParamgenError(
                f"a generator needs at least 2 training rows (and one per process), got "
                f"{len(data.params)} here of {rows_in_all}"
            )
        if checkpoint_every < 1:
            raise ParamgenError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
        check_finite(data.conditions)
        shapes = {name: tuple(value.shape[1:]) for name, value in data.conditions.items()}
        torch.manual_seed(config.seed)  # the initial weights too: a fit is a function of its seed
        generator = cls(config, data.schema, shapes, data.metadata)
        conditions = collective.gather_dict(data.conditions)  # every process's, in rank order
        chunks = checked_chunks(data.params)
        digest = Fingerprint(asdict(config))
        if checkpoint is not None:  # hashed in the statistics' pass: the rows are read once
            chunks = map(digest.update, chunks)
        generator.normalizer.fit(chunks, across=collective.sum)
        generator.condition_encoder.fit(conditions)
        run = FitRun(
            torch.Generator().manual_seed(config.seed + _RANK_SEEDS * collective.rank),
            on_progress if collective.rank == 0 else None,
            step_config=per_process(config, collective),
            collective=collective,
        )
        if checkpoint is not None:
            for name in sorted(conditions):
                digest.update(conditions[name])
            run.checkpoint = FitCheckpoint(checkpoint, collective.agree(digest.hexdigest()))
            run.every = checkpoint_every
            run.resume = run.checkpoint.read()
            if run.resume is not None:
                FitCheckpoint.restore_model(run.resume, generator)
        rows = NormalizedRows(data.params, generator.normalizer.normalize)
        latents = train_autoencoder(generator, rows, run)
        train_denoiser(generator, latents, data.conditions, run)
        return generator.eval()

    def condition_embedding(
        self, conditions: Mapping[str, torch.Tensor], n: int, drop: torch.Tensor | None
    ) -> torch.Tensor:
        """[n, E] condition embeddings; ``drop`` [n] marks rows that get the null embedding."""
        embedding = self.condition_encoder(conditions)  # [n, E], or [1, E]: one for every row
        if embedding.shape[0] not in (1, n):
            raise ParamgenError(f"got {embedding.shape[0]} condition values for n={n} samples")
        embedding = embedding.expand(n, -1)
        if drop is not None:
            embedding = torch.where(
                drop[:, None], self.null_condition.expand_as(embedding), embedding
            )
        return embedding

    def item_context(
        self, embedding: torch.Tensor, codes: torch.Tensor | None, ids: torch.Tensor | None
    ) -> torch.Tensor:
        """What the latent denoiser is told for items ``ids`` [n, k] (None: all) of n rows:
        the architecture's context of the condition embedding [n, E] and the row codes."""
        return self.context(embedding if codes is None else torch.cat([embedding, codes], 1), ids)

    # ------------------------------------------------------------------------ encode / decode
    @torch.no_grad()
    def encode(self, params: torch.Tensor | RowSource) -> torch.Tensor:
        """Raw weight rows [N, D] → standardised latents [N, *latent_shape] ([N, L] for a
        whole-row generator, [N, tokens, L] for a tokenized one), a chunk of rows at a time."""
        rows = NormalizedRows(params, self.normalizer.normalize)
        latents = torch.cat([self.autoencoder.encode(chunk) for chunk in rows.chunks()])
        return (latents - self.latent_mean) / self.latent_std

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Standardised latents [N, *latent_shape] → raw weight rows [N, D]."""
        with torch.no_grad():
            return self.normalizer.denormalize(
                self.autoencoder.decode(latents * self.latent_std + self.latent_mean)
            )

    def code_basis(self) -> CodeBasis:
        """How a row's latents give its row code (a tokenized generator without conditions)."""
        return CodeBasis(self.code_mean, self.code_directions, self.code_scale)

    @property
    def guided_shape(self) -> tuple[int, ...]:
        """The shape of what a latent classifier of this generator reads per row: the latent,
        or, with row codes, the code (it sets the row apart; its tokens follow it)."""
        if self.row_codes is not None:
            return (self.code_dim,)
        return tuple(self.autoencoder.latent_shape)

    @torch.no_grad()
    def guided_inputs(self, params: torch.Tensor | RowSource) -> torch.Tensor:
        """Raw weight rows [N, D] → what a latent classifier reads [N, *guided_shape]."""
        latents = self.encode(params)
        return latents if self.row_codes is None else self.code_basis().codes(latents)

    # ------------------------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample_latents(
        self,
        condition: Mapping,
        n: int,
        *,
        steps: int | None = None,
        sampler: str | None = None,
        guidance: float = 1.0,
        seed: int = 0,
        diffusion: float = 1.0,
        strict: bool = False,
        guides: Sequence[Guide] = (),
        first_step: FirstStep | None = None,
    ) -> torch.Tensor:
        """[n, *latent_shape] standardised latents for ``condition`` (one value per condition,
        or n of them).

        ``{}`` for an unconditional generator. A value outside the training range warns
        (``ConditionRangeWarning``): the generator extrapolates; with ``strict`` it is an error.
        ``guides``: noise-aware latent classifiers with class weights (classifier guidance, or
        multi-guidance over several classes; :mod:`paramgen.generator.latent_guidance` makes
        them), added on top of classifier-free ``guidance``. A tokenized generator without
        conditions draws each row's code first, then its tokens given the code; there the
        guides steer the code (``guided_shape``). ``first_step``: a learned start for a DDPM
        path's sampler (One More Step, :class:`paramgen.solvers.OneMoreStep`, given the
        denoiser's ``condition`` context of each item).
        """
        if n < 1:
            raise ParamgenError(f"n must be >= 1, got {n}")
        if n * self.schema.dim * 4 > MAX_SAMPLE_BYTES:
            most = max(1, MAX_SAMPLE_BYTES // (self.schema.dim * 4))
            raise ParamgenError(
                f"n={n} rows of {self.schema.dim:,} numbers would take "
                f"{n * self.schema.dim * 4 / 2**30:.1f} GiB at once; sample at most {most:,} a "
                "call (several calls with different seeds)"
            )
        if steps is not None and (isinstance(steps, bool) or steps < 1):
            raise ParamgenError(f"steps must be >= 1, got {steps}")
        if not math.isfinite(guidance) or not math.isfinite(diffusion) or diffusion < 0:
            raise ParamgenError(
                f"guidance must be finite and diffusion finite and >= 0, got {guidance} and "
                f"{diffusion}"
            )
        sampler, steps = sampler or self.path.default_sampler, steps or self.path.default_steps
        device = self.latent_mean.device  # sampling runs where the generator is (.to("cuda"))
        inputs = {
            name: torch.as_tensor(value, dtype=torch.float32).to(device)
            for name, value in self.condition_encoder.batch(condition, n).items()
        }
        check_finite(inputs)
        report_outside_range(self.condition_encoder.outside_range(inputs), strict)
        embedding = self.condition_embedding(inputs, n, None)
        rng = torch.Generator().manual_seed(seed)
        solving = {"sampler": sampler, "steps": steps, "diffusion": diffusion, "generator": rng}
        codes = None
        if self.row_codes is not None:  # only without conditions: no classifier-free guidance
            coder = MultiGuidance(self.row_codes, self.path, guides) if guides else self.row_codes
            start = torch.randn(n, self.code_dim, generator=rng).to(device)
            codes = solve(self.path, coder, start, **solving, condition=embedding)
            guides = ()  # the tokens follow their guided code
        null = self.item_context(self.null_condition.expand_as(embedding), codes, None)
        guided = ClassifierFreeGuidance(self.denoiser, guidance, {"condition": null})
        if guides:
            guided = MultiGuidance(guided, self.path, guides)
        # Items (the row, or each of its tokens) are sampled side by side, each told its context.
        shape = self.autoencoder.latent_shape
        noise = torch.randn(n * math.prod(shape[:-1]), shape[-1], generator=rng).to(device)
        context = self.item_context(embedding, codes, None)
        latents = solve(
            self.path, guided, noise, **solving, first_step=first_step, condition=context
        )
        return latents.view(n, *shape)

    def sample_rows(self, condition: Mapping, n: int, **sampling) -> torch.Tensor:
        """[n, D] raw weight rows for ``condition``; ``sampling``: as ``sample_latents``'s."""
        return self.decode(self.sample_latents(condition, n, **sampling))

    def sample(self, condition: Mapping, n: int = 1, **sampling) -> list[dict[str, torch.Tensor]]:
        """n parameter sets {name: tensor} for ``condition`` (``{"rotation": 30.0}``, or ``{}``).

        ``sampling``: steps, sampler, guidance, seed, diffusion, strict, guides (see
        ``sample_latents``).
        """
        return [self.schema.unflatten(row) for row in self.sample_rows(condition, n, **sampling)]

    # ---------------------------------------------------------------------------- persistence
    def to_config(self) -> dict:
        """Its ``GeneratorConfig``, row layout, condition shapes and what it was fit on."""
        return {
            "config": asdict(self.config),
            "schema": json.loads(self.schema.to_json()),
            "schema_hash": self.schema.hash,
            "condition_shapes": {k: list(v) for k, v in self.condition_shapes.items()},
            "metadata": self.metadata,
        }

    @classmethod
    def from_config(cls, config: dict) -> ParamGenerator:
        """Config keys a newer paramgen wrote are dropped with a warning; missing ones default."""
        values = without_unknown(
            config["config"], (f.name for f in fields(GeneratorConfig)), "generator config"
        )
        if "ae_channels" in values:
            values["ae_channels"] = tuple(values["ae_channels"])  # a list in JSON
        values.setdefault("architecture", "whole-row")  # saved before there was a choice
        values.setdefault("row_code_dim", 0)  # saved before there were row codes
        schema = ParamSchema.from_json(json.dumps(config["schema"]))
        if config.get("schema_hash", schema.hash) != schema.hash:
            raise ParamgenError(
                "the schema in its config.json does not match its schema_hash (the tensor names "
                "or shapes were edited); save the generator again"
            )
        return cls(
            GeneratorConfig(**values),
            schema,
            {k: tuple(v) for k, v in config["condition_shapes"].items()},
            config.get("metadata", {}),
        )
