"""Guidance: model wrappers that steer a model at sampling time.

A wrapper has the sampler's model signature, ``forward(x [N, ...], t [N], **extras) -> [N, ...]``,
so any sampler integrates a guided model as it would the bare one, and wrappers compose.
``ClassifierFreeGuidance`` mixes a conditional model with its unconditional self;
``MultiGuidance`` adds the gradients of noise-aware classifiers, over one class or several at
once (zero-shot interpolation, Deschenaux et al. 2024).
"""

from paramgen.guidance.classifier_free import ClassifierFreeGuidance
from paramgen.guidance.multi import Guide, MultiGuidance

__all__ = ["ClassifierFreeGuidance", "Guide", "MultiGuidance"]
