"""The main job behind ``paramgen run``: zoo → generator → evaluation → report, each stage cached.

Stages write their result into the run folder and are skipped when it is already there, so a
killed run resumes at the stage it was in (the zoo stage itself resumes run by run, the generator
stage from its last training checkpoint):

    out/zoo.h5             the rotation-LoRA zoo (train and held-out angles)
    out/generator/         the fitted ParamGenerator (config.json + model.safetensors)
    out/evaluation.json    generated adapters and baselines, scored per angle
    out/report/            report.md, accuracy_vs_condition.png, latent_pca.png/.csv, scores.json
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from paramgen.generator import FIT_CHECKPOINT, GeneratorConfig, ParamGenerator
from paramgen.inspect import latent_pca, save_pca
from paramgen.persistence import CONFIG_FILE
from zoo.builders import LoraZooConfig, build_lora_zoo
from zoo.builders.driver import RunReport
from zoo.evaluation import ConditionScores, evaluate_generator
from zoo.report import write_report
from zoo.store import Zoo
from zoo.training_set import training_set

__all__ = ["MainJobConfig", "run_main_job"]

Progress = Callable[[str, int, int, float], None]


def _default_generator() -> GeneratorConfig:
    return GeneratorConfig(ae_steps=1000, denoiser_steps=2000)


@dataclass(frozen=True)
class MainJobConfig:
    """The built-in default: rotation LoRAs on digits-cnn, a flow-matching latent generator."""

    zoo: LoraZooConfig = field(default_factory=LoraZooConfig)
    generator: GeneratorConfig = field(default_factory=_default_generator)
    samples: int = 20
    seed: int = 0


def _timed(timings: dict, stage: str, work: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = work()
    timings[stage] = round(time.perf_counter() - started, 1)
    return result


def run_main_job(
    out: Path,
    config: MainJobConfig = MainJobConfig(),
    on_run: Callable[[RunReport], None] | None = None,
    on_progress: Progress | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Path:
    """Run (or resume) every stage in ``out``; returns the path of ``report.md``."""
    out.mkdir(parents=True, exist_ok=True)
    zoo_path, generator_dir = out / "zoo.h5", out / "generator"
    evaluation_path, report_dir = out / "evaluation.json", out / "report"
    timings: dict[str, float] = {}
    announce = on_stage or (lambda stage: None)
    group_name = config.zoo.group

    announce("zoo")
    _timed(timings, "zoo", lambda: build_lora_zoo(zoo_path, config.zoo, on_run=on_run))
    with Zoo.open(zoo_path) as zoo:
        data = training_set(zoo.group(group_name))
        announce("generator")
        if (generator_dir / CONFIG_FILE).exists():
            generator = ParamGenerator.from_pretrained(generator_dir)
        else:
            checkpoint = generator_dir / FIT_CHECKPOINT
            generator = _timed(
                timings,
                "generator",
                lambda: ParamGenerator.fit(data, config.generator, on_progress, checkpoint),
            )
            generator.save_pretrained(generator_dir)
            checkpoint.unlink(missing_ok=True)
        announce("evaluation")
        if evaluation_path.exists():
            scores = [ConditionScores(**s) for s in json.loads(evaluation_path.read_text())]
        else:
            scores = _timed(
                timings,
                "evaluation",
                lambda: evaluate_generator(
                    generator,
                    zoo,
                    group_name,
                    config.zoo.values,
                    n=config.samples,
                    seed=config.seed,
                ),
            )
            evaluation_path.write_text(json.dumps([s.as_dict() for s in scores]))
        trained = generator.encode(data.params).flatten(1)  # while the zoo is open
    announce("report")
    style = config.zoo.style
    generated_values = np.repeat([s.value for s in scores], 4)
    generated = torch.cat([generator.sample_latents({style: s.value}, 4, seed=1) for s in scores])
    view = latent_pca(
        trained.numpy(),
        data.conditions[style].numpy(),
        generated.flatten(1).numpy(),
        generated_values,
    )
    report_dir.mkdir(parents=True, exist_ok=True)
    save_pca(view, report_dir / "latent_pca.png", report_dir / "latent_pca.csv", style)
    facts = {
        "zoo": f"{group_name}: {len(config.zoo.values)} {style} values x {config.zoo.keep_last} "
        f"checkpoints ({len(data.params)} training rows)",
        "generator": f"path {config.generator.path}, latent {config.generator.latent_dim}, "
        f"{config.generator.ae_steps} autoencoder + "
        f"{config.generator.denoiser_steps} denoiser steps",
        "samples per value": config.samples,
        "stage seconds (this invocation)": json.dumps(timings),
    }
    return write_report(report_dir, scores, style, facts, "latent_pca.png")
