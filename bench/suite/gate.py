"""CI regression gate: small CPU profiles whose frame-level AUCs must not drop (``ssmtl gate``).

The profiles and their reference values live in ``experiments/ci_gate.yaml``:

* ``synthetic``: the embedded synthetic scenes (generated, seeded) with their oracle boxes;
* ``ped2_subset``: real UCSD Ped2 (``../shared/data/ped2`` or ``$SSMTL_PED2_ROOT``), training
  videos 01-04 and test videos 01-02, the precomputed YOLOv3 boxes at the paper's 0.5 confidence.

Each profile trains shallow_narrow on T1+T2+T3 for a few epochs on CPU (no teachers: the ImageNet
and detector teachers cost minutes of CPU; task 4 is covered by the unit tests), scores the test
objects (eq. 6, section 3.4) and computes micro and macro AUC. The gate fails when a value falls
below ``reference - tolerance``, where the reference is the mean over the seeds measured with
``ssmtl gate --write-reference --seeds 0 1 2`` and the tolerance is ``sigmas`` standard deviations
of that seed-to-seed spread, at least ``min_tolerance``. Training is deterministic for a given CPU
and number of torch threads, not across thread counts (OpenMP splits the sums differently: the
Ped2 subset's seed 0 gives 91.6 micro AUC on 2 threads, 87.6 on 1), so the spread over seeds
bounds what another machine or a harmless refactor may move; the gate pins the thread count
(``common.threads``, the 2 cores of this project's CI machine).

Full-scale runs are checked against the published numbers with ``ssmtl gate --published
metrics/ped2/object_level.json`` (see :func:`check_published`).

Every path (the gate file, the profiles' dataset roots, the work folder ``artifacts/ci``) is
relative to the working directory: ``ssmtl gate`` runs from the checkout's root (``.ci/run``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.data import VideoDataset, open_dataset
from bench.data.subsample import VideoSubset
from bench.errors import InputError
from bench.io import write_json, write_text

DEFAULT_FILE = Path("experiments/ci_gate.yaml")
DEFAULT_WORK = Path("artifacts/ci")
PUBLISHED_TABLE = Path("experiments/reference.csv")
METRICS = ("auc_micro", "auc_macro")


def open_profile_dataset(name: str, spec: dict, work: Path = DEFAULT_WORK) -> VideoDataset:
    """The profile's dataset (generated under ``work`` for ``synthetic``), restricted to its
    videos."""
    if spec["dataset"] == "synthetic":
        from bench.data.synth import generate

        root = Path(work) / name / "data"
        if not (root / "meta.json").is_file():
            generate(root, overwrite=True, progress=True, **spec["synthetic"])
    else:
        root = resolve_root(spec)
    dataset = open_dataset(spec["dataset"], root)
    return VideoSubset(dataset, spec.get("train_videos"), spec.get("test_videos"))


def resolve_root(spec: dict) -> Path:
    """``$<root_env>`` when set, else ``root`` relative to the working directory (the checkout's
    root: ``../shared/...`` here)."""
    root = Path(os.environ.get(spec["root_env"]) or spec["root"])
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root}: dataset root of the CI profile is missing (set ${spec['root_env']})"
        )
    return root


def run_profile(
    name: str, spec: dict, common: dict, seed: int, work: Path = DEFAULT_WORK
) -> dict[str, float]:
    """Train, score and evaluate one profile with ``seed`` (its files under ``work/<name>``);
    returns its metrics."""
    from bench.model import SSMTL
    from bench.pipeline import make_detector, run_detect
    from bench.score import MapConfig
    from bench.suite.ablation import score_and_evaluate
    from bench.train import TrainConfig, train
    from bench.tubes import build_tube_cache

    dataset = open_profile_dataset(name, spec, work)
    work = Path(work) / name
    caches = {}
    for split in ("train", "test"):
        boxes = Path(dataset.root) / spec["boxes"][split]
        detector = make_detector("precomputed", "", spec["confidence"], 640, str(boxes), "cpu")
        stride = spec["train_frame_stride"] if split == "train" else 1
        detections = run_detect(dataset, split, detector, work / f"detections_{split}.npz", stride)
        key = {"detections": detections.meta, "videos": spec.get(f"{split}_videos")}
        caches[split] = build_tube_cache(
            dataset, split, detections, work / f"tubes_{split}", t=common["t"], seed=0, key=key
        )
    config = TrainConfig(
        arch=common["arch"],
        tasks=tuple(common["tasks"]),
        lam=common["lam"],
        epochs=common["epochs"],
        batch_size=common["batch_size"],
        lr=common["lr"],
        seed=seed,
        device="cpu",
    )
    result = train(caches["train"], None, config)
    model = SSMTL(config.arch, config.tasks)
    model.load_state_dict(result.state_dict)
    metrics = score_and_evaluate(model, caches["test"], None, dataset, MapConfig(), localize=False)
    return {key: float(metrics[key]) for key in METRICS}


def load_gate_file(path: Path) -> dict[str, Any]:
    """The profiles, common training knobs, gate rule and reference values of ``path``;
    :class:`~bench.errors.InputError` when it is missing or has no profiles."""
    try:
        spec = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise InputError(
            # YAML's messages span lines: one line keeps "error: FILE: problem; fix" whole
            f"cannot read the gate file ({' '.join(str(error).split())})",
            file=path,
            fix="pass --file with a gate file",
        ) from error
    if not isinstance(spec, dict) or not spec.get("profiles") or "common" not in spec:
        raise InputError(
            "not a gate file: it needs 'profiles' and 'common'",
            file=path,
            fix="see experiments/ci_gate.yaml",
        )
    return spec


def select_profiles(spec: dict, profiles: list[str] | None) -> dict[str, dict]:
    """The profiles of ``spec`` named in ``profiles`` (all when empty);
    :class:`~bench.errors.InputError` naming any unknown one, so that the gate never passes by
    checking nothing."""
    known = spec["profiles"]
    unknown = sorted(set(profiles or ()) - set(known))
    if unknown:
        raise InputError(
            f"--profiles: unknown profile(s) {', '.join(unknown)}",
            fix=f"choose from {', '.join(known)}",
        )
    return {k: v for k, v in known.items() if not profiles or k in profiles}


def common_settings(spec: dict, overrides: dict[str, Any]) -> dict[str, Any]:
    """The file's common training knobs with ``overrides`` applied; ValueError naming an unknown
    knob (overrides exist to show the gate failing, e.g. ``epochs=1``, not to add settings)."""
    unknown = set(overrides) - set(spec["common"])
    if unknown:
        raise InputError(
            f"--override: unknown knob(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(spec['common'])}"
        )
    return {**spec["common"], **overrides}


def measure(
    spec: dict,
    common: dict,
    profiles: list[str] | None,
    seeds: list[int],
    work: Path = DEFAULT_WORK,
) -> dict[str, list[dict[str, float]]]:
    """Run the selected profiles (all when ``profiles`` is empty) with every seed, on
    ``common["threads"]`` torch threads; returns the metrics of each run, per profile."""
    from bench.train import set_threads

    set_threads(common["threads"])  # results depend on the thread count (module docstring)
    selected = select_profiles(spec, profiles)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in selected}
    for name, profile in selected.items():
        for seed in seeds:
            runs[name].append(run_profile(name, profile, common, seed, work))
            print(f"{name} seed {seed}: {runs[name][-1]}", flush=True)
    return runs


def tolerance(reference: dict, gate: dict) -> float:
    """``sigmas`` seed-to-seed standard deviations, at least ``min_tolerance``."""
    return max(gate["sigmas"] * reference["std"], gate["min_tolerance"])


def compare(values: dict[str, dict[str, float]], references: dict, gate: dict) -> list[str]:
    """One line per profile and metric; lines starting with ``FAIL`` are regressions."""
    lines = []
    for profile, metrics in values.items():
        if profile not in references:
            lines.append(
                f"FAIL {profile:12s} has no reference values: measure them with "
                f"ssmtl gate --write-reference --profiles {profile} --seeds 0 1 2"
            )
            continue
        for metric, value in metrics.items():
            reference = references[profile][metric]
            floor = reference["mean"] - tolerance(reference, gate)
            status = "ok  " if value >= floor else "FAIL"
            lines.append(
                f"{status} {profile:12s} {metric:10s} {value:.4f} "
                f"(reference {reference['mean']:.4f} ± {reference['std']:.4f} "
                f"over seeds {reference['seeds']}, floor {floor:.4f})"
            )
    return lines


def judge(
    spec: dict,
    runs: dict[str, list[dict[str, float]]],
    overrides: list[str],
    seconds: float,
    out: Path,
) -> tuple[list[str], bool]:
    """Compare the first seed of every profile with the references, write the values and the
    verdicts to ``out``; returns the lines and whether every value passed."""
    lines = compare(
        {name: results[0] for name, results in runs.items()}, spec["reference"], spec["gate"]
    )
    if not lines:
        lines = ["FAIL nothing was checked: no profile ran"]
    failed = any(line.startswith("FAIL") for line in lines)
    write_json(
        out,
        {
            "values": runs,
            "lines": lines,
            "passed": not failed,
            "overrides": overrides,
            "seconds": seconds,
        },
    )
    return lines, not failed


def write_reference(
    path: Path, spec: dict, runs: dict[str, list[dict[str, float]]], seeds: list[int]
) -> None:
    """Store mean, standard deviation and the per-seed values of every profile and metric that
    ran; the references of profiles that did not run are kept."""

    def stats(results: list[dict[str, float]], metric: str) -> dict[str, Any]:
        values = [r[metric] for r in results]
        std = float(np.std(values, ddof=1)) if len(results) > 1 else 0.0
        return {
            "mean": round(float(np.mean(values)), 4),
            "std": round(std, 4),
            "seeds": list(seeds),
            "values": [round(v, 4) for v in values],
        }

    measured = {
        profile: {metric: stats(results, metric) for metric in METRICS}
        for profile, results in runs.items()
    }
    spec["reference"] = {**spec.get("reference", {}), **measured}
    header = "".join(line + "\n" for line in path.read_text().splitlines() if line.startswith("#"))
    write_text(path, header + yaml.safe_dump(spec, sort_keys=False))


def check_published(
    metrics_path: Path, reference_csv: Path, dataset: str, tolerance_points: float
) -> list[str]:
    """A full-scale run (e.g. the paper profile on a GPU) against the published object-level
    AUCs of ``reference_csv``; lines starting with ``FAIL`` fall short."""
    import pandas as pd

    metrics = json.loads(Path(metrics_path).read_text())
    table = pd.read_csv(reference_csv)
    published = table[
        (table.table == "readme")
        & (table.dataset == dataset)
        & (table.metric == "frame_auc")
        & (table.level == "object")
    ]
    lines = []
    for _, row in published.iterrows():
        ours = 100 * metrics[f"auc_{row.averaging}"]
        status = "ok  " if ours >= row.value - tolerance_points else "FAIL"
        lines.append(
            f"{status} {dataset} {row.averaging} AUC {ours:.1f} vs published "
            f"{row.value:.1f} (tolerance {tolerance_points} points)"
        )
    return lines
