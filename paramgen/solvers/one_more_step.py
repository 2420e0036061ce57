"""One More Step (Hu et al., CVPR 2024): one learned step in front of a frozen DDPM sampler.

A schedule whose last training step keeps some data (ᾱ_T > 0: Stable Diffusion's keeps
√ᾱ_T = 0.068) trains the model on an x_T that still carries the data's low frequencies, above all
the image mean; sampling from zero-mean N(0, I) then pulls every sample towards the average
brightness. One More Step leaves the model alone and adds a compact net ψ(noise, condition),
trained at a virtual step with ᾱ = 0:

* training: L = E‖ψ(ε, c) − x₀‖². At ᾱ = 0 the v-target is √0·ε − √1·x₀ = −x₀, so this is the
  reference's v-form up to the sign; we predict x̂₀ directly because it is what the step uses.
  ε is independent of x₀, so the optimum is E[x₀ | c], the condition's mean data.
* sampling: x̂₀ = ψ(ε, c) (optionally with classifier-free guidance, the reference uses w = 2),
  then x_{T'} = √ᾱ_{T'}·x̂₀ + √(1 − ᾱ_{T'})·z with fresh z ~ N(0, I), at the frozen sampler's
  first timestep T' (951 for Stable Diffusion's 20 "leading" steps), and the sampler runs from
  there. The reference code scales z by the variance 1 − ᾱ rather than its root; the root is
  what reproduces the training marginal q(x_{T'} | x₀), and a test checks it.

``OneMoreStep`` is that net for inputs of any shape (images [C, H, W] or latent vectors [L]): an
MLP on the flattened noise and the condition, which is class labels (extra ``labels`` [N], with a
learnt null class for guidance), a vector (extra ``condition`` [N, E], null = zeros) or none. It
is a ``first_step`` for :func:`paramgen.solvers.sample` and saves like every paramgen module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from paramgen.errors import ParamgenError
from paramgen.guidance import ClassifierFreeGuidance
from paramgen.persistence import Pretrained
from paramgen.solvers.common import randn

__all__ = ["OneMoreStep", "train_one_more_step"]


class OneMoreStep(Pretrained, nn.Module):
    """ψ(noise [N, *input_shape], condition) → x̂₀ [N, *input_shape], and the step that uses it.

    ``classes`` > 0: conditioned on integer ``labels`` [N] in [0, classes); ``condition_dim`` > 0:
    on a vector ``condition`` [N, condition_dim]; neither: unconditional. ``guidance_scale`` is
    the classifier-free guidance weight of the step (1: none); guidance needs a net trained with
    ``drop_condition`` > 0 (:func:`train_one_more_step`). ``fitted_on`` identifies the space
    its data lives in where that matters (a generator's latent space; "" if none).
    """

    config_keys = (
        "input_shape", "classes", "condition_dim", "width", "guidance_scale", "fitted_on"
    )  # fmt: skip
    optional_keys = frozenset({"guidance_scale", "fitted_on"})

    def __init__(
        self,
        input_shape: tuple[int, ...] | list[int],
        classes: int = 0,
        condition_dim: int = 0,
        width: int = 128,
        guidance_scale: float = 1.0,
        fitted_on: str = "",
    ) -> None:
        super().__init__()
        if classes and condition_dim:
            raise ParamgenError(
                "OneMoreStep takes class labels or a condition vector, not both; set classes "
                "or condition_dim to 0"
            )
        if not math.isfinite(guidance_scale):
            raise ParamgenError(f"guidance_scale must be a finite number, got {guidance_scale}")
        if classes < 0 or condition_dim < 0 or width < 1:
            raise ParamgenError(
                f"OneMoreStep needs classes, condition_dim >= 0 and width >= 1, got {classes}, "
                f"{condition_dim}, {width}"
            )
        self.input_shape = tuple(int(n) for n in input_shape)
        self.classes, self.condition_dim, self.width = int(classes), int(condition_dim), int(width)
        self.guidance_scale, self.fitted_on = float(guidance_scale), str(fitted_on)
        size = math.prod(self.input_shape)
        self.label_embedding = nn.Embedding(classes + 1, width) if classes else None  # + null
        self.condition_in = nn.Linear(condition_dim, width) if condition_dim else None
        self.noise_in = nn.Linear(size, width)
        self.body = nn.Sequential(
            nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, size)
        )

    def to_config(self) -> dict:
        return {
            "input_shape": list(self.input_shape),
            "classes": self.classes,
            "condition_dim": self.condition_dim,
            "width": self.width,
            "guidance_scale": self.guidance_scale,
            "fitted_on": self.fitted_on,
        }

    def _null(self, n: int, like: Tensor) -> dict[str, Tensor]:
        if self.classes:
            return {"labels": torch.full((n,), self.classes, dtype=torch.long, device=like.device)}
        if self.condition_dim:
            return {"condition": like.new_zeros(n, self.condition_dim)}
        return {}

    def _conditioning(self, n: int, extras: dict[str, Any]) -> Tensor | None:
        if self.label_embedding is not None:
            labels = extras.get("labels")
            if labels is None:
                raise ParamgenError("this OneMoreStep is class-conditioned: pass labels=[N] ints")
            labels = torch.as_tensor(labels, device=self.noise_in.weight.device).long()
            if labels.shape != (n,) or labels.min() < 0 or labels.max() > self.classes:
                raise ParamgenError(
                    f"labels must be [N={n}] ints in [0, {self.classes}) (or {self.classes}, "
                    f"the null class), got shape {tuple(labels.shape)}"
                )
            return self.label_embedding(labels)
        if self.condition_in is not None:
            condition = extras.get("condition")
            if condition is None or condition.shape != (n, self.condition_dim):
                got = None if condition is None else tuple(condition.shape)
                raise ParamgenError(
                    f"this OneMoreStep is conditioned on condition=[N={n}, {self.condition_dim}]"
                    f", got {got}"
                )
            return self.condition_in(condition)
        return None

    def estimate(self, noise: Tensor, **extras: Any) -> Tensor:
        """x̂₀ [N, *input_shape] = ψ(noise, condition), without guidance (what training fits).
        Extras the net does not take (the frozen model's own) are ignored."""
        if tuple(noise.shape[1:]) != self.input_shape:
            raise ParamgenError(
                f"OneMoreStep expects noise [N, {', '.join(map(str, self.input_shape))}], got "
                f"{tuple(noise.shape)}; train one on this data's shape"
            )
        hidden = self.noise_in(noise.flatten(1))
        conditioning = self._conditioning(len(noise), extras)
        if conditioning is not None:
            hidden = hidden + conditioning
        return self.body(hidden).view_as(noise)

    def guided_estimate(self, noise: Tensor, **extras: Any) -> Tensor:
        """x̂₀ with classifier-free guidance at ``guidance_scale`` (u + w·(c − u))."""
        if self.guidance_scale == 1.0 or not (self.classes or self.condition_dim):
            return self.estimate(noise, **extras)
        taken = {key: extras[key] for key in ("labels", "condition") if key in extras}
        guided = ClassifierFreeGuidance(
            lambda x, t, **both: self.estimate(x, **both),
            self.guidance_scale,
            self._null(len(noise), noise),
        )
        return guided(noise, noise.new_zeros(len(noise)), **taken)

    @torch.no_grad()
    def forward(
        self,
        noise: Tensor,
        alpha_bar: float,
        *,
        generator: torch.Generator | None = None,
        **extras: Any,
    ) -> Tensor:
        """The step: x_{T'} = √ᾱ·x̂₀ + √(1 − ᾱ)·z, z ~ N(0, I) fresh, at the sampler's first
        timestep's ᾱ = ``alpha_bar``; x̂₀ = ψ(``noise``, condition) (guided)."""
        x0 = self.guided_estimate(noise, **extras)
        return math.sqrt(alpha_bar) * x0 + math.sqrt(1 - alpha_bar) * randn(noise, generator)


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    while True:
        yield torch.randint(n, (min(batch_size, n),), generator=generator)


def train_one_more_step(
    step: OneMoreStep,
    data: Tensor,
    *,
    labels: Tensor | None = None,
    condition: Tensor | None = None,
    steps: int = 2000,
    lr: float = 1e-3,
    batch_size: int = 128,
    drop_condition: float = 0.0,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Fit ψ on ``data`` [N, *input_shape] (the frozen model's training data, in the space it
    samples) with its ``labels`` [N] or ``condition`` [N, E]: L = ‖ψ(ε, c) − x₀‖², ε ~ N(0, I)
    fresh each step; ``drop_condition`` of the rows see the null condition (what guidance needs).
    ``on_step(step, loss)`` runs after each update (a progress bar). Returns the loss per step;
    the base model is not touched (it is not even needed)."""
    if not 0 <= drop_condition < 1:
        raise ParamgenError(f"drop_condition must be in [0, 1), got {drop_condition}")
    if len(data) == 0:
        raise ParamgenError("OneMoreStep training data has no rows; give the model's data")
    if not data.isfinite().all():
        raise ParamgenError("OneMoreStep training data holds NaN or infinite values; clean it")
    for name, value in (("labels", labels), ("condition", condition)):
        if value is not None and len(value) != len(data):
            raise ParamgenError(f"{name} has {len(value)} rows for {len(data)} data rows")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(step.parameters(), lr=lr)
    losses = []
    step.train()
    for _, batch in zip(range(steps), _batches(len(data), batch_size, generator), strict=False):
        x0 = data[batch]
        extras = {}
        drop = torch.rand(len(batch), generator=generator) < drop_condition
        if labels is not None:
            extras["labels"] = torch.where(drop, step.classes, labels[batch].long())
        if condition is not None:
            extras["condition"] = torch.where(drop[:, None], 0.0, condition[batch])
        noise = torch.randn(x0.shape, generator=generator)
        loss = F.mse_loss(step.estimate(noise, **extras), x0)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(len(losses), losses[-1])
    step.eval()
    return losses
