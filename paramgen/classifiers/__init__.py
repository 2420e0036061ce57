"""Noise-aware classifiers p(c | x_t, t): trained on inputs noised along a generator's path, they
guide its sampling (:class:`paramgen.guidance.MultiGuidance`)."""

from paramgen.classifiers.labels import ConditionClasses, condition_classes
from paramgen.classifiers.nets import CLASSIFIER_NETS, ImageTimeClassifier, VectorTimeClassifier
from paramgen.classifiers.noise_aware import NoiseAwareClassifier
from paramgen.classifiers.training import (
    ClassifierFit,
    calibrate_temperature,
    train_noise_aware_classifier,
)

__all__ = [
    "ConditionClasses",
    "condition_classes",
    "CLASSIFIER_NETS",
    "ImageTimeClassifier",
    "VectorTimeClassifier",
    "NoiseAwareClassifier",
    "ClassifierFit",
    "calibrate_temperature",
    "train_noise_aware_classifier",
]
