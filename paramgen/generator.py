"""ParamGenerator: learn the distribution of a zoo group's weights, then sample new weights.

Pipeline (p-diff / Cond P-Diff): per-tensor z-scoring (around per-tensor means or the mean row)
→ a noise-augmented 1D-conv autoencoder → standardised latents → a conditional latent denoiser
trained with one of the shared paths (DDPM ε-prediction, linear or trig flow matching) with
classifier-free condition dropout → sampling with the shared solvers and a guidance scale →
decode → un-normalise → unflatten. A training set without conditions (p-diff: checkpoints of one
model) gives an unconditional generator (``NoConditionEncoder``); sampling it takes ``{}``.

Saved as a folder: ``config.json`` (everything needed to rebuild it) + ``model.safetensors``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from paramgen import __version__
from paramgen.autoencoder import ParamAutoencoder
from paramgen.checkpoint import FitCheckpoint, Resume, fingerprint
from paramgen.condition_checks import check_finite, report_outside_range
from paramgen.conditions import CONDITION_ENCODERS, NoConditionEncoder
from paramgen.denoiser import LatentDenoiser
from paramgen.errors import ParamgenError
from paramgen.families import family_names, get_family
from paramgen.interpolants import make_path
from paramgen.normalization import CENTRES, Centre, TensorwiseNormalizer
from paramgen.schema import ParamSchema
from paramgen.solvers import sample as solve
from paramgen.solvers import samplers_for

__all__ = [
    "FIT_CHECKPOINT",
    "GeneratorConfig",
    "TrainingSet",
    "ParamGenerator",
    "config_for_family",
]

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
FIT_CHECKPOINT = "fit-checkpoint.safetensors"  # beside them while a fit runs
DEFAULT_SAMPLING = {"linear": ("heun", 25), "trig": ("heun", 25), "ddpm": ("ddim", 50)}
Progress = Callable[[str, int, int, float], None]


@dataclass(frozen=True)
class GeneratorConfig:
    """What a generator is (saved with it). Sampling knobs go to ``sample``."""

    centre: Centre = "tensor"  # "element" for rows sharing most values (TensorwiseNormalizer)
    latent_dim: int = 64
    ae_channels: tuple[int, ...] = (32, 64, 64)
    ae_stride: int = 4
    input_noise: float = 0.001
    latent_noise: float = 0.1
    ae_steps: int = 1500
    ae_lr: float = 1e-3
    path: str = "linear"
    width: int = 256
    depth: int = 4
    condition: str = "scalar"
    condition_dim: int = 128
    examples: int = 16
    condition_dropout: float = 0.1
    denoiser_steps: int = 3000
    denoiser_lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        make_path(self.path)  # raises on an unknown path name
        if self.centre not in CENTRES:
            raise ParamgenError(f"centre must be one of {list(CENTRES)}, got {self.centre!r}")
        if self.condition not in CONDITION_ENCODERS:
            raise ParamgenError(
                f"condition must be one of {list(CONDITION_ENCODERS)}, got {self.condition!r}"
            )
        if not 0 <= self.condition_dropout < 1:
            raise ParamgenError(
                f"condition_dropout must be in [0, 1), got {self.condition_dropout}"
            )


def config_for_family(family: str | None, **overrides) -> GeneratorConfig:
    """``GeneratorConfig`` with the registered ``family``'s ``generator_defaults`` (none for an
    unregistered or missing family), then ``overrides``."""
    defaults = get_family(family).generator_defaults if family in family_names() else {}
    return GeneratorConfig(**{**defaults, **overrides})


@dataclass
class _FitRun:
    """What every training stage of one fit shares: its random stream and checkpointing."""

    rng: torch.Generator
    on_progress: Progress | None
    checkpoint: FitCheckpoint | None = None
    every: int = 100
    resume: Resume | None = None


_STAGES = ("autoencoder", "denoiser")


@dataclass
class TrainingSet:
    """Rows [N, D] (raw weights), their conditions {name: [N, *shape]}, and what they are."""

    params: torch.Tensor
    conditions: dict[str, torch.Tensor]
    schema: ParamSchema
    metadata: dict = field(default_factory=dict)  # family, family_config, backbone, group, …


class ParamGenerator(nn.Module):
    """Use ``ParamGenerator.fit`` to train one, ``from_pretrained`` to load one."""

    def __init__(
        self,
        config: GeneratorConfig,
        schema: ParamSchema,
        condition_shapes: Mapping[str, tuple[int, ...]],
        metadata: Mapping | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.schema = schema
        self.condition_shapes = {k: tuple(v) for k, v in condition_shapes.items()}
        self.metadata = dict(metadata or {})
        self.path = make_path(config.path)
        self.normalizer = TensorwiseNormalizer(schema, config.centre)
        self.autoencoder = ParamAutoencoder(
            schema.dim,
            config.latent_dim,
            config.ae_channels,
            config.input_noise,
            config.latent_noise,
            config.ae_stride,
        )
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
        self.denoiser = LatentDenoiser(
            config.latent_dim, config.condition_dim, config.width, config.depth
        )

    # ------------------------------------------------------------------------------- training
    @classmethod
    def fit(
        cls,
        data: TrainingSet,
        config: GeneratorConfig = GeneratorConfig(),
        on_progress: Progress | None = None,
        checkpoint: str | Path | None = None,
        checkpoint_every: int = 100,
    ) -> ParamGenerator:
        """Train the autoencoder, then the latent denoiser, on ``data``.

        With ``checkpoint`` (a file path), the training state is saved there every
        ``checkpoint_every`` steps and at the end of each stage, and a fit that finds a checkpoint
        of the same config and rows resumes from it, ending with the same weights as an
        uninterrupted fit. The file is left in place; delete it once the generator is saved.
        """
        if len(data.params) < 2:
            raise ParamgenError(
                f"a generator needs at least 2 training rows, got {len(data.params)}"
            )
        if checkpoint_every < 1:
            raise ParamgenError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
        if not torch.isfinite(data.params).all():
            raise ParamgenError("training rows contain NaN or Inf; drop those checkpoints first")
        check_finite(data.conditions)
        shapes = {name: tuple(value.shape[1:]) for name, value in data.conditions.items()}
        torch.manual_seed(config.seed)  # the initial weights too: a fit is a function of its seed
        generator = cls(config, data.schema, shapes, data.metadata)
        generator.normalizer.fit(data.params)
        generator.condition_encoder.fit(data.conditions)
        run = _FitRun(torch.Generator().manual_seed(config.seed), on_progress)
        if checkpoint is not None:
            fit_fingerprint = fingerprint(
                asdict(config),
                [data.params, *(data.conditions[k] for k in sorted(data.conditions))],
            )
            run.checkpoint = FitCheckpoint(checkpoint, fit_fingerprint)
            run.every = checkpoint_every
            run.resume = run.checkpoint.read()
            if run.resume is not None:
                FitCheckpoint.restore_model(run.resume, generator)
        rows = generator.normalizer.normalize(data.params)
        generator._train_autoencoder(rows, run)
        generator._train_denoiser(rows, data.conditions, run)
        return generator.eval()

    def _optimise(
        self,
        stage: str,
        parameters: list[torch.Tensor],
        lr: float,
        weight_decay: float,
        steps: int,
        loss_of_step: Callable[[], torch.Tensor],
        run: _FitRun,
    ) -> None:
        """AdamW with a cosine learning-rate decay over ``steps`` steps of ``loss_of_step``."""
        optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
        first = 1
        if run.resume is not None:
            ahead = _STAGES.index(run.resume.stage) - _STAGES.index(stage)
            if ahead > 0:
                return  # finished before the checkpoint; its weights came with the model state
            if ahead == 0:
                FitCheckpoint.restore_training(run.resume, optimiser, schedule, run.rng)
                first = run.resume.step + 1
        for step in range(first, steps + 1):
            loss = loss_of_step()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            if run.checkpoint is not None and (step % run.every == 0 or step == steps):
                run.checkpoint.save(stage, step, self, optimiser, schedule, run.rng)
            if run.on_progress:
                run.on_progress(stage, step, steps, loss.item())

    def _train_autoencoder(self, rows: torch.Tensor, run: _FitRun) -> None:
        config, rng = self.config, run.rng

        def reconstruction_loss() -> torch.Tensor:
            batch = rows[torch.randint(len(rows), (config.batch_size,), generator=rng)]
            return F.mse_loss(self.autoencoder(batch, rng), batch)

        self.autoencoder.train()
        self._optimise(
            "autoencoder",
            list(self.autoencoder.parameters()),
            config.ae_lr,
            2e-6,
            config.ae_steps,
            reconstruction_loss,
            run,
        )
        self.autoencoder.eval()
        with torch.no_grad():
            latents = self.autoencoder.encode(rows)
            self.latent_mean.copy_(latents.mean(dim=0))
            self.latent_std.copy_(latents.std(dim=0).clamp_min(1e-4))

    def _condition_embedding(
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

    def _train_denoiser(
        self, rows: torch.Tensor, conditions: Mapping[str, torch.Tensor], run: _FitRun
    ) -> None:
        config, rng = self.config, run.rng
        latents = self.encode_normalized(rows).detach()

        def path_loss() -> torch.Tensor:
            index = torch.randint(len(latents), (config.batch_size,), generator=rng)
            batch = {name: value[index] for name, value in conditions.items()}
            inputs = self.condition_encoder.training_inputs(batch, rng)
            drop = torch.rand(config.batch_size, generator=rng) < config.condition_dropout
            noise = torch.randn(latents[index].shape, generator=rng)
            sample = self.path.sample_training(latents[index], noise, rng)
            embedding = self._condition_embedding(inputs, config.batch_size, drop)
            return F.mse_loss(self.denoiser(sample.x_t, sample.t, embedding), sample.target)

        trainable = [
            *self.denoiser.parameters(),
            *self.condition_encoder.parameters(),
            self.null_condition,
        ]
        self.denoiser.train()
        self._optimise(
            "denoiser",
            trainable,
            config.denoiser_lr,
            0.0,
            config.denoiser_steps,
            path_loss,
            run,
        )
        self.denoiser.eval()

    # ------------------------------------------------------------------------ encode / decode
    def encode_normalized(self, rows: torch.Tensor) -> torch.Tensor:
        """Normalised rows [N, D] → standardised latents [N, L] (no training noise)."""
        with torch.no_grad():
            return (self.autoencoder.encode(rows) - self.latent_mean) / self.latent_std

    def encode(self, params: torch.Tensor) -> torch.Tensor:
        """Raw weight rows [N, D] → standardised latents [N, L]."""
        return self.encode_normalized(self.normalizer.normalize(params))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Standardised latents [N, L] → raw weight rows [N, D]."""
        with torch.no_grad():
            return self.normalizer.denormalize(
                self.autoencoder.decode(latents * self.latent_std + self.latent_mean)
            )

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
    ) -> torch.Tensor:
        """[n, L] standardised latents for ``condition`` (one value per condition, or n of them).

        ``{}`` for an unconditional generator. A value outside the training range warns
        (``ConditionRangeWarning``): the generator extrapolates; with ``strict`` it is an error.
        """
        if n < 1:
            raise ParamgenError(f"n must be >= 1, got {n}")
        default_sampler, default_steps = DEFAULT_SAMPLING[self.config.path]
        sampler, steps = sampler or default_sampler, steps or default_steps
        if sampler not in samplers_for(self.path):
            raise ParamgenError(
                f"sampler {sampler!r} does not fit the {self.config.path!r} path; "
                f"choose one of {samplers_for(self.path)}"
            )
        device = self.latent_mean.device  # sampling runs where the generator is (.to("cuda"))
        inputs = {
            name: torch.as_tensor(value, dtype=torch.float32).to(device)
            for name, value in self.condition_encoder.batch(condition, n).items()
        }
        check_finite(inputs)
        report_outside_range(self.condition_encoder.outside_range(inputs), strict)
        embedding = self._condition_embedding(inputs, n, None)
        null = self.null_condition.expand_as(embedding)

        def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if guidance == 1.0:
                return self.denoiser(x, t, embedding)
            both = self.denoiser(torch.cat([x, x]), torch.cat([t, t]), torch.cat([embedding, null]))
            conditional, unconditional = both.chunk(2)
            return unconditional + guidance * (conditional - unconditional)

        rng = torch.Generator().manual_seed(seed)
        noise = torch.randn(n, self.config.latent_dim, generator=rng).to(device)
        return solve(
            self.path,
            guided,
            noise,
            sampler=sampler,
            steps=steps,
            diffusion=diffusion,
            generator=rng,
        )

    def sample_rows(self, condition: Mapping, n: int, **sampling) -> torch.Tensor:
        """[n, D] raw weight rows for ``condition``; ``sampling``: as ``sample_latents``'s."""
        return self.decode(self.sample_latents(condition, n, **sampling))

    def sample(self, condition: Mapping, n: int = 1, **sampling) -> list[dict[str, torch.Tensor]]:
        """n parameter sets {name: tensor} for ``condition`` (``{"rotation": 30.0}``, or ``{}``).

        ``sampling``: steps, sampler, guidance, seed, diffusion, strict (see ``sample_latents``).
        """
        return [self.schema.unflatten(row) for row in self.sample_rows(condition, n, **sampling)]

    # ---------------------------------------------------------------------------- persistence
    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors``; ``from_pretrained`` needs nothing else."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        description = {
            "class": type(self).__name__,
            "paramgen_version": __version__,
            "config": asdict(self.config),
            "schema": json.loads(self.schema.to_json()),
            "condition_shapes": {k: list(v) for k, v in self.condition_shapes.items()},
            "metadata": self.metadata,
        }
        (folder / CONFIG_FILE).write_text(json.dumps(description, indent=2, sort_keys=True))
        state = {name: tensor.contiguous() for name, tensor in self.state_dict().items()}
        save_file(state, folder / WEIGHTS_FILE, metadata={"format": "pt"})
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> ParamGenerator:
        folder = Path(folder)
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (folder / name).is_file():
                raise ParamgenError(
                    f"{folder} has no {name}; is it a folder written by save_pretrained?"
                )
        try:
            description = json.loads((folder / CONFIG_FILE).read_text())
            config_values = dict(description["config"])
        except (json.JSONDecodeError, KeyError) as error:
            raise ParamgenError(
                f"{folder / CONFIG_FILE} is not a generator config ({error})"
            ) from error
        if description.get("class") != cls.__name__:
            raise ParamgenError(
                f"{folder} holds a {description.get('class')!r}, not a {cls.__name__}"
            )
        known = {f.name for f in fields(GeneratorConfig)}
        unknown = sorted(set(config_values) - known)
        if unknown:
            warnings.warn(f"{folder}: ignoring unknown config keys {unknown}", stacklevel=2)
        config_values = {k: v for k, v in config_values.items() if k in known}
        config_values["ae_channels"] = tuple(
            config_values.get("ae_channels", GeneratorConfig.ae_channels)
        )
        generator = cls(
            GeneratorConfig(**config_values),
            ParamSchema.from_json(json.dumps(description["schema"])),
            {k: tuple(v) for k, v in description["condition_shapes"].items()},
            description.get("metadata", {}),
        )
        try:
            generator.load_state_dict(load_file(folder / WEIGHTS_FILE))
        except RuntimeError as error:  # missing, unexpected or mis-shaped tensors
            first_line = str(error).splitlines()[1:2] or [str(error)]
            raise ParamgenError(
                f"{folder / WEIGHTS_FILE} does not match its config.json "
                f"({first_line[0].strip()}); "
                "save the generator again"
            ) from None
        return generator.eval()
