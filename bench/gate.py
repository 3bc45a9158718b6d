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
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from bench.datasets import VideoDataset, open_dataset
from bench.datasets.subsample import VideoSubset
from bench.atomic import write_json, write_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = REPO / "experiments" / "ci_gate.yaml"
WORK = REPO / "artifacts" / "ci"
METRICS = ("auc_micro", "auc_macro")


def open_profile_dataset(name: str, spec: dict) -> VideoDataset:
    """The profile's dataset (generated for ``synthetic``), restricted to its videos."""
    if spec["dataset"] == "synthetic":
        from bench.synth import generate

        root = WORK / name / "data"
        if not (root / "meta.json").is_file():
            generate(root, overwrite=True, progress=True, **spec["synthetic"])
    else:
        root = resolve_root(spec)
    dataset = open_dataset(spec["dataset"], root)
    return VideoSubset(dataset, spec.get("train_videos"), spec.get("test_videos"))


def resolve_root(spec: dict) -> Path:
    """``$<root_env>`` when set, else ``root`` relative to the checkout (``../shared/...`` here)."""
    root = Path(os.environ.get(spec["root_env"]) or REPO / spec["root"])
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset root of the CI profile is missing (set ${spec['root_env']})")
    return root


def run_profile(name: str, spec: dict, common: dict, seed: int) -> dict[str, float]:
    """Train, score and evaluate one profile with ``seed``; returns its metrics."""
    from bench.ablation import score_and_evaluate
    from bench.model import SSMTL
    from bench.pipeline import make_detector, run_detect
    from bench.score import MapConfig
    from bench.train import TrainConfig, train
    from bench.tubes import build_tube_cache

    dataset = open_profile_dataset(name, spec)
    work = WORK / name
    caches = {}
    for split in ("train", "test"):
        boxes = Path(dataset.root) / spec["boxes"][split]
        detector = make_detector("precomputed", "", spec["confidence"], 640, str(boxes), "cpu")
        stride = spec["train_frame_stride"] if split == "train" else 1
        detections = run_detect(dataset, split, detector, work / f"detections_{split}.npz", stride)
        caches[split] = build_tube_cache(dataset, split, detections, work / f"tubes_{split}", t=common["t"], seed=0,
                                         key={"detections": detections.meta, "videos": spec.get(f"{split}_videos")})
    config = TrainConfig(arch=common["arch"], tasks=tuple(common["tasks"]), lam=common["lam"], epochs=common["epochs"],
                         batch_size=common["batch_size"], lr=common["lr"], seed=seed, device="cpu")
    result = train(caches["train"], None, config)
    model = SSMTL(config.arch, config.tasks)
    model.load_state_dict(result.state_dict)
    metrics = score_and_evaluate(model, caches["test"], None, dataset, MapConfig(), localize=False)
    return {key: float(metrics[key]) for key in METRICS}


def tolerance(reference: dict, gate: dict) -> float:
    return max(gate["sigmas"] * reference["std"], gate["min_tolerance"])


def compare(values: dict[str, dict[str, float]], references: dict, gate: dict) -> list[str]:
    """One line per profile and metric; lines starting with ``FAIL`` are regressions."""
    lines = []
    for profile, metrics in values.items():
        if profile not in references:
            lines.append(f"FAIL {profile:12s} has no reference values: measure them with "
                         f"ssmtl gate --write-reference --profiles {profile} --seeds 0 1 2")
            continue
        for metric, value in metrics.items():
            reference = references[profile][metric]
            floor = reference["mean"] - tolerance(reference, gate)
            status = "ok  " if value >= floor else "FAIL"
            lines.append(f"{status} {profile:12s} {metric:10s} {value:.4f} (reference {reference['mean']:.4f} "
                         f"± {reference['std']:.4f} over seeds {reference['seeds']}, floor {floor:.4f})")
    return lines


def write_reference(path: Path, spec: dict, runs: dict[str, list[dict[str, float]]], seeds: list[int]) -> None:
    """Store mean, standard deviation and the per-seed values of every profile and metric that ran;
    the references of profiles that did not run are kept."""
    spec["reference"] = {**spec.get("reference", {}), **{
        profile: {metric: {"mean": round(float(np.mean([r[metric] for r in results])), 4),
                           "std": round(float(np.std([r[metric] for r in results], ddof=1)) if len(results) > 1 else 0.0, 4),
                           "seeds": list(seeds), "values": [round(r[metric], 4) for r in results]}
                  for metric in METRICS}
        for profile, results in runs.items()
    }}
    header = "".join(line + "\n" for line in path.read_text().splitlines() if line.startswith("#"))
    write_text(path, header + yaml.safe_dump(spec, sort_keys=False))


def check_published(metrics_path: Path, reference_csv: Path, dataset: str, tolerance_points: float) -> list[str]:
    """A full-scale run (e.g. the paper profile on a GPU) against the published object-level AUCs."""
    import pandas as pd

    metrics = json.loads(metrics_path.read_text())
    table = pd.read_csv(reference_csv)
    published = table[(table.table == "readme") & (table.dataset == dataset) & (table.metric == "frame_auc") & (table.level == "object")]
    lines = []
    for _, row in published.iterrows():
        ours = 100 * metrics[f"auc_{row.averaging}"]
        status = "ok  " if ours >= row.value - tolerance_points else "FAIL"
        lines.append(f"{status} {dataset} {row.averaging} AUC {ours:.1f} vs published {row.value:.1f} (tolerance {tolerance_points} points)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ssmtl gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="profiles and reference values (default experiments/ci_gate.yaml)")
    parser.add_argument("--profiles", nargs="+", help="run only these profiles")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (several with --write-reference)")
    parser.add_argument("--write-reference", action="store_true", help="store the measured values as the new reference")
    parser.add_argument("--override", nargs="*", default=[], metavar="KEY=VALUE", help="change a common training knob (e.g. epochs=1, lr=0) to see the gate fail")
    parser.add_argument("--published", type=Path, help="instead: check this metrics JSON of a full run against the published numbers")
    parser.add_argument("--dataset", default="ped2", help="with --published: the dataset of that run")
    parser.add_argument("--tolerance-points", type=float, default=2.0, help="with --published: allowed AUC shortfall in percentage points")
    parser.add_argument("--out", type=Path, default=WORK / "gate.json", help="measured values and verdicts (default artifacts/ci/gate.json)")
    args = parser.parse_args(argv)
    if args.published:
        lines = check_published(args.published, REPO / "experiments" / "reference.csv", args.dataset, args.tolerance_points)
        print("\n".join(lines))
        return 1 if any(line.startswith("FAIL") for line in lines) else 0
    spec = yaml.safe_load(args.file.read_text())
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.override)}
    unknown = set(overrides) - set(spec["common"])
    if unknown:
        parser.error(f"--override: unknown knob(s) {', '.join(sorted(unknown))}; known: {', '.join(spec['common'])}")
    common = {**spec["common"], **overrides}
    from bench.train import set_threads

    set_threads(common["threads"])  # results depend on the thread count (module docstring)
    profiles = {k: v for k, v in spec["profiles"].items() if not args.profiles or k in args.profiles}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in profiles}
    start = time.perf_counter()
    for name, profile in profiles.items():
        for seed in args.seeds:
            runs[name].append(run_profile(name, profile, common, seed))
            print(f"{name} seed {seed}: {runs[name][-1]}", flush=True)
    if args.write_reference:
        write_reference(args.file, spec, runs, args.seeds)
        print(f"wrote the reference values to {args.file}")
        return 0
    lines = compare({name: results[0] for name, results in runs.items()}, spec["reference"], spec["gate"])
    print("\n".join(lines))
    failed = any(line.startswith("FAIL") for line in lines)
    write_json(args.out, {"values": runs, "lines": lines, "passed": not failed, "overrides": args.override,
                          "seconds": time.perf_counter() - start})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
