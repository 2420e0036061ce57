"""Zoos at scale on digits-mlp-wide: pretraining, a rank-16 LoRA zoo (102,400 numbers a row) and
a p-diff subset zoo of its widest layer (fc2: 4,196,352 numbers a row) — times and file sizes.

    python bench/wide_zoos.py [--lora-values 0,5,10,15] [--checkpoints 200] [--threads 1]
        [--work-dir /tmp/wide_zoos] [--keep]

The base is pretrained once (timed, with its held-out accuracy) and stored in each zoo before its
build, so build times exclude it. The LoRA zoo is ``LoraZooConfig``'s defaults (300 steps, last 10
kept, chain) at rank 16, alpha 16, on ``--lora-values`` (all 37 default angles: over half an hour
on one thread, so by default a 4-value run, projected to 37 values by runs). The subset zoo keeps
``--checkpoints`` of fc2 one step apart (``SubsetZooConfig`` on ``WIDE_DIGITS``). Zoo files are
written under ``--work-dir`` and deleted unless ``--keep``; writes bench/results/wide_zoos.json.
The subset build's peak memory is ~4× its rows (a run's checkpoints are held, stacked and
flattened before the append): ~12.6 GiB for 200 checkpoints of fc2.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import torch

from paramgen.backbones import build_backbone
from paramgen.tasks.digits import WIDE_DIGITS
from zoo.builders import LoraZooConfig, SubsetZooConfig, build_lora_zoo, build_subset_zoo
from zoo.store import Zoo

RESULTS = Path(__file__).with_name("results") / "wide_zoos.json"
BACKBONE = "digits-mlp-wide"
DEFAULT_VALUES = len(LoraZooConfig().values)


def timed_build(path: Path, base: dict, build, config) -> dict:
    """Build ``config`` into a fresh zoo holding ``base``: seconds, rows, row length, MiB."""
    path.unlink(missing_ok=True)
    with Zoo.create(path) as zoo:
        zoo.store_backbone(BACKBONE, base, {"name": BACKBONE, "seed": 0})
    started = time.perf_counter()
    build(path, config)
    seconds = time.perf_counter() - started
    with Zoo.open(path) as zoo:
        (name,) = zoo.groups()
        group = zoo.group(name)
        rows, dim = len(group), group.schema.dim
        (metric,) = group.read([0, rows - 1]).metrics.values()  # not 10⁹ params
    return {
        "group": name,
        "seconds": round(seconds, 1),
        "rows": rows,
        "row_length": dim,
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "params_mib": round(rows * dim * 4 / 2**20, 1),
        "metric_first_last": [round(float(metric[0]), 4), round(float(metric[-1]), 4)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lora-values", default="0,5,10,15", help="comma list of angles")
    parser.add_argument("--checkpoints", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/wide_zoos"))
    parser.add_argument("--keep", action="store_true", help="keep the zoo files")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.work_dir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    model = build_backbone(BACKBONE, seed=0, pretrained=True)
    pretrain = {"seconds": round(time.perf_counter() - started, 1)}
    pretrain["parameters"] = sum(p.numel() for p in model.parameters())
    pretrain["test_accuracy"] = round(WIDE_DIGITS.score(model, None), 4)
    print("pretrain", pretrain, flush=True)
    base = model.state_dict()

    values = tuple(float(v) for v in args.lora_values.split(","))
    lora_config = LoraZooConfig(backbone=BACKBONE, rank=16, alpha=16.0, values=values)
    lora = timed_build(args.work_dir / "lora.h5", base, build_lora_zoo, lora_config)
    scale = DEFAULT_VALUES / len(values)
    lora |= {
        "values": list(values),
        "projected_default_seconds": round(lora["seconds"] * scale),
        # the base's 18 MiB once, the rows times the runs
        "projected_default_file_mib": round(lora["file_mib"] + lora["params_mib"] * (scale - 1), 1),
    }
    print("lora", lora, flush=True)

    subset_config = SubsetZooConfig(
        patterns=("fc2.*",), task=WIDE_DIGITS, checkpoints=args.checkpoints
    )
    subset = timed_build(args.work_dir / "subset.h5", base, build_subset_zoo, subset_config)
    print("subset", subset, flush=True)

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if not args.keep:
        for name in ("lora.h5", "subset.h5"):
            (args.work_dir / name).unlink(missing_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "command": "python " + " ".join(sys.argv),
                "cpu_cores": os.cpu_count(),
                "torch_threads": args.threads,
                "backbone": BACKBONE,
                "pretrain": pretrain,
                "lora": {"rank": 16, "alpha": 16.0, "default_values": DEFAULT_VALUES, **lora},
                "subset": {"patterns": ["fc2.*"], "checkpoints": args.checkpoints, **subset},
                "peak_rss_gib": round(peak_kib / 2**20, 2),
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
