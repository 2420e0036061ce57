"""The parameter generator: config, model, fit loop and its parts (autoencoder, latent denoiser,
condition encoders, normalisation, fit checkpoints)."""

from paramgen.generator.config import GeneratorConfig, TrainingSet, config_for_family
from paramgen.generator.model import FIT_CHECKPOINT, ParamGenerator

__all__ = [
    "FIT_CHECKPOINT",
    "GeneratorConfig",
    "ParamGenerator",
    "TrainingSet",
    "config_for_family",
]
