"""Training a MAC coefficient net on digits through the γ-space sampler, and sampling with it.

The paper trains φ with a hinge GAN, back-propagating through all NFE sampler steps. Here the loss
is the squared MMD between the sampler's images and real training digits in the feature space of
the built-in digits classifier (relu(fc1), :func:`paramgen.frechet.feature_tensor`), with a sum of
RBF kernels whose bandwidths are multiples of the real features' median pairwise distance: a
proper divergence between the two feature distributions with no discriminator to train, cheap at
a minibatch of 64, and a different statistic from the evaluation's Fréchet distance (means and
covariances of held-out test digits). The velocity model (a linear-path flow model on images
centred to [−1, 1], ``model(x, t)``) and the classifier stay frozen; only the coefficient net
learns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from paramgen.data.digits import DigitImages
from paramgen.errors import ParamgenError
from paramgen.families.mac.nets import MacCoefficientNet
from paramgen.frechet import feature_tensor
from paramgen.paths import make_path
from paramgen.solvers import gamma_euler, sample

__all__ = [
    "euler_images",
    "mac_images",
    "mac_minibatch_loss",
    "median_distance",
    "mmd_widths",
    "rbf_mmd",
    "train_mac_net",
]


def rbf_mmd(x: Tensor, y: Tensor, bandwidths: Sequence[float]) -> Tensor:
    """Squared MMD [] between x [N, d] and y [N', d] with Σ_h exp(−|a − b|²/(2h²)) (V-statistic)."""
    points = torch.cat([x, y])
    squared = torch.cdist(points, points).square()
    kernel = sum(torch.exp(-squared / (2 * h**2)) for h in bandwidths)
    n = len(x)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()


def median_distance(features: Tensor) -> float:
    """The median pairwise Euclidean distance of features [N, d] (the kernels' length unit)."""
    distances = torch.cdist(features, features)
    return distances[torch.triu_indices(len(features), len(features), 1).unbind()].median().item()


def mac_images(
    net: MacCoefficientNet, velocity: nn.Module, noise: Tensor, steps: int, clamp: bool = True
) -> Tensor:
    """Images in [0, 1] (clamped unless ``clamp=False``) from noise [N, C, H, W]: ``steps`` γ-space
    Euler steps along the MAC path ``net`` computes from the noise itself. Keeps autograd on."""
    x = (gamma_euler(net.path(noise), velocity, noise, steps=steps) + 1) / 2
    return x.clamp(0, 1) if clamp else x


@torch.no_grad()
def euler_images(velocity: nn.Module, noise: Tensor, steps: int) -> Tensor:
    """Images in [0, 1] from noise [N, C, H, W]: plain Euler on the linear path (MAC's w = 0)."""
    x = sample(make_path("linear"), velocity, noise, sampler="euler", steps=steps)
    return ((x + 1) / 2).clamp(0, 1)


def train_mac_net(
    net: MacCoefficientNet,
    velocity: nn.Module,
    classifier: nn.Module,
    data: DigitImages,
    *,
    nfe: int | Sequence[int],
    iterations: int,
    lr: float,
    batch_size: int = 64,
    bandwidths: Sequence[float] = (0.5, 1.0, 2.0),
    seed: int = 0,
    on_step: Callable[[int, MacCoefficientNet], None] | None = None,
) -> MacCoefficientNet:
    """Adam on ``net`` for ``iterations`` minibatches; returns it in eval mode.

    Each minibatch: ``batch_size`` fresh noises → ``nfe``-step MAC samples (unclamped, so every
    pixel passes gradient; a sequence of NFEs is cycled through, one per minibatch, to train one
    net for all of them) → classifier features; loss = :func:`rbf_mmd` to the features of
    ``batch_size`` random digits of ``data``, ``bandwidths`` in units of the median pairwise
    distance of ``data``'s features. ``velocity`` and ``classifier`` are frozen
    (``requires_grad_(False)``). Noise and minibatches come from a generator seeded with ``seed``;
    ``on_step(iteration, net)`` runs after each update.
    """
    nfes = (nfe,) if isinstance(nfe, int) else tuple(nfe)
    checks = [("nfe", n) for n in nfes or [None]]
    for name, value in [*checks, ("iterations", iterations), ("batch_size", batch_size)]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParamgenError(f"{name} must be an integer >= 1, got {value!r}")
    if not lr > 0:
        raise ParamgenError(f"lr must be > 0, got {lr}")
    velocity.requires_grad_(False).eval()
    classifier.requires_grad_(False).eval()
    widths = mmd_widths(classifier, data, bandwidths)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    for iteration in range(1, iterations + 1):
        nfe_now = nfes[(iteration - 1) % len(nfes)]
        loss = mac_minibatch_loss(
            net, velocity, classifier, data, nfe_now, widths, batch_size, generator
        )
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if on_step is not None:
            on_step(iteration, net)
    return net.eval()


@torch.no_grad()
def mmd_widths(
    classifier: nn.Module, data: DigitImages, bandwidths: Sequence[float] = (0.5, 1.0, 2.0)
) -> list[float]:
    """RBF bandwidths in feature units: ``bandwidths`` × the median pairwise distance of the
    classifier features of ``data``'s first 512 images."""
    unit = median_distance(feature_tensor(classifier, data.images[:512]))
    return [unit * b for b in bandwidths]


def mac_minibatch_loss(
    net: MacCoefficientNet,
    velocity: nn.Module,
    classifier: nn.Module,
    data: DigitImages,
    nfe: int,
    widths: Sequence[float],
    batch_size: int,
    generator: torch.Generator,
) -> Tensor:
    """One minibatch's loss: ``batch_size`` fresh noises → ``nfe``-step MAC samples (unclamped,
    so every pixel passes gradient) → classifier features; :func:`rbf_mmd` to the features of
    ``batch_size`` random digits of ``data`` (noise first, then digits, from ``generator``)."""
    noise = torch.randn((batch_size, *data.images.shape[1:]), generator=generator)
    real = data.images[torch.randint(len(data), (batch_size,), generator=generator)]
    images = mac_images(net, velocity, noise, nfe, clamp=False)
    with torch.no_grad():
        target = feature_tensor(classifier, real)
    return rbf_mmd(feature_tensor(classifier, images), target, widths)
