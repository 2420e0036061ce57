"""``paramgen inspect …``: look inside a generator's latent parameter space."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
import typer
from rich.console import Console

from cli.errors import user_errors
from cli.generator_dir import GeneratorDir, load_generator
from paramgen.inspect import latent_pca, save_pca
from zoo.store import Zoo
from zoo.training_set import training_set

__all__ = ["inspect_app"]

_console = Console(emoji=False, highlight=False)
inspect_app = typer.Typer(
    help="Look inside a generator's latent parameter space.", no_args_is_help=True
)


@inspect_app.command("pca")
@user_errors
def inspect_pca(
    generator_dir: GeneratorDir,
    zoo: Annotated[Path, typer.Argument(help="Zoo holding the generator's training rows.")],
    out: Annotated[Path, typer.Option(help="Folder for latent_pca.png and latent_pca.csv.")],
    per_value: Annotated[int, typer.Option(help="Generated latents per condition value.")] = 4,
) -> None:
    """PCA of latents: training rows vs generated ones, coloured by condition (PNG + CSV)."""
    generator = load_generator(generator_dir)
    with Zoo.open(zoo) as store:
        data = training_set(store.group(generator.metadata["group"]), split=None)
        trained = generator.encode(data.params).flatten(1)  # a tokenized one: all its tokens
    (style,) = data.conditions
    values = sorted(set(data.conditions[style].tolist()))
    generated = torch.cat([generator.sample_latents({style: v}, per_value, seed=1) for v in values])
    view = latent_pca(
        trained.numpy(),
        data.conditions[style].numpy(),
        generated.flatten(1).numpy(),
        [v for v in values for _ in range(per_value)],
    )
    out.mkdir(parents=True, exist_ok=True)
    save_pca(view, out / "latent_pca.png", out / "latent_pca.csv", style)
    _console.print(f"wrote {out / 'latent_pca.png'} and {out / 'latent_pca.csv'}")
