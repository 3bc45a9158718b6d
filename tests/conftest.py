"""Shared fixtures: the real benchmark files in ../shared (or $SSMTL_SHARED)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SSMTL_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under the shared data folder; skips the test when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture(scope="session")
def ped2_root() -> Path:
    return shared_path("data", "ped2")


@dataclass(frozen=True)
class TinyRun:
    """A 2-epoch arrow+middle training run (t = 1) on the tiny synthetic preset, with its
    train and test tube caches: shared by the tests that score checkpoints."""

    dataset: Any
    root: Path
    train_tubes: Path
    test_tubes: Path
    run_dir: Path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    import numpy as np

    from bench.data import open_dataset
    from bench.data.synth import generate
    from bench.detection import load_precomputed
    from bench.train import TrainConfig, set_threads, train
    from bench.tubes import build_tube_cache

    set_threads(1)
    base = tmp_path_factory.mktemp("tiny_run")
    root = base / "tiny"
    generate(root, seed=0, preset="tiny")
    dataset = open_dataset("synthetic", root)
    boxes = {
        split: load_precomputed(root / "detections" / f"boxes_{split}.npz", confidence=0.5)
        for split in ("train", "test")
    }
    train_boxes = boxes["train"].filter(np.arange(len(boxes["train"])) % 9 == 0)
    cache = build_tube_cache(dataset, "train", train_boxes, base / "tr", t=1, progress=False)
    build_tube_cache(dataset, "test", boxes["test"], base / "te", t=1, progress=False)
    config = TrainConfig(tasks=("arrow", "middle"), epochs=2, batch_size=16, device="cpu")
    train(cache, None, config, checkpoint_dir=base / "run")
    return TinyRun(dataset, root, base / "tr", base / "te", base / "run")
