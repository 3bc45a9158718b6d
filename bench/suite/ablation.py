"""The ablation table (paper Table 4): every architecture x proxy-task row, trained and evaluated.

The 17 rows live in ``experiments/ablation.yaml`` (four single tasks with shallow_narrow;
T1+T3, T1+T2+T3 and all four tasks with each of the four sizes; all four tasks deep_wide at the
frame level). Two commands, two ``dvc.yaml`` stages:

``ssmtl ablation prepare``
    Builds the rows' shared inputs once: training and test tube caches at the search's ``t``
    (``metrics/<dataset>/search.json``), object and frame level, from the pipeline's detections
    and teachers, optionally of every n-th training / test frame only (``1``: all, the paper's).
``ssmtl ablation run --row ROW[,ROW...] --seed S[,S...]``
    Trains the row's model (eq. 5 with the search's lambda), scores the test objects (eq. 6),
    builds frame scores (section 3.4) and evaluates them: frame-level AUC micro and macro, RBDC
    and TBDC at the object level, AUC per anomaly kind on synthetic scenes. One MLflow run per
    row and seed (per-epoch curves, ``best_*`` keys of the chosen epoch), a child of one parent
    run per sweep named after the experiment file (``ablation.yaml synthetic ablation (sweep
    ...)``) that holds the table of its finished rows as ``summary.csv``; tagged with dataset,
    arch, tasks, level, seed, git commit and the hash of ``dvc.lock``. Writes
    ``<row>-s<seed>.json`` (the pipeline: ``metrics/<dataset>/ablation/<group>/``). Rows and
    seeds run one after another in one process (``dvc.yaml``: one per ``ablation.groups``
    group): each process spends ~7 s importing torch and MLflow on a CPU.

With a test frame stride ``n > 1`` the evaluation uses the ground truth of the same frames
(:class:`bench.data.subsample.EveryNthFrame`): an unbiased estimate of the full-test AUC on
``1/n`` of the frames, with the temporal filters acting on the subsampled timeline.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from bench import tracking
from bench.data import VideoDataset
from bench.data.subsample import EveryNthFrame
from bench.errors import InputError
from bench.io import save_npy, write_json, write_text
from bench.metrics.evaluate import evaluate, per_head_aucs
from bench.model import SSMTL
from bench.paper import EPOCHS, HEAD_SCALE, LEARNING_RATE, TASK_IDS
from bench.pipeline import load_subsampled
from bench.score import (
    HeadStatistics,
    MapConfig,
    frame_sizes,
    head_frame_scores,
    object_scores,
    scored_regions,
    validation_statistics,
    video_frame_scores,
)
from bench.train import TrainConfig, load_checkpoint, save_checkpoint, train
from bench.tubes import TubeCache, build_tube_cache

LEVELS = ("object", "frame")
SPLITS = ("train", "test")
EXPERIMENT = "ssmtl-ablation"
# relative to the working directory: the commands run from the checkout's root
DVC_LOCK = Path("dvc.lock")
ROWS_FILE = Path("experiments/ablation.yaml")  # the parent run is named after it


@dataclass(frozen=True)
class Row:
    """One row of Table 4: an architecture, the proxy tasks it learns, the level it works at."""

    id: str
    arch: str
    tasks: tuple[str, ...]  # paper names, T1..T4
    level: str

    @property
    def task_names(self) -> tuple[str, ...]:
        """The tasks as :mod:`bench.model` names them (arrow, motion, middle, distill)."""
        return tuple(TASK_IDS[task] for task in self.tasks)


def load_rows(path: Path) -> dict[str, Row]:
    """The rows of ``experiments/ablation.yaml``, checked (unknown task, level or arch:
    InputError naming the file)."""
    from bench.model import ARCHITECTURES

    try:
        spec = yaml.safe_load(Path(path).read_text())["rows"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as error:
        raise InputError(
            f"not an ablation file with a 'rows' mapping ({type(error).__name__}: {error})",
            file=path,
            fix="see experiments/ablation.yaml for the format",
        ) from error
    if not isinstance(spec, dict):
        raise InputError(
            f"'rows' is a {type(spec).__name__}, not a mapping of row ids",
            file=path,
            fix="see experiments/ablation.yaml for the format",
        )
    rows = {}
    for row_id, fields in spec.items():
        try:
            row = Row(row_id, fields["arch"], tuple(fields["tasks"]), fields["level"])
        except (KeyError, TypeError) as error:
            raise InputError(
                f"row {row_id}: needs the keys arch, tasks (a list) and level ({error!r})",
                file=path,
                fix="see experiments/ablation.yaml for the format",
            ) from error
        problems = [f"unknown task {t!r}" for t in row.tasks if t not in TASK_IDS]
        problems += [f"unknown level {row.level!r}"] if row.level not in LEVELS else []
        problems += [f"unknown arch {row.arch!r}"] if row.arch not in ARCHITECTURES else []
        if problems:
            raise InputError(
                f"row {row_id}: " + "; ".join(problems),
                file=path,
                fix=f"tasks among {sorted(TASK_IDS)}, level among {list(LEVELS)}, "
                f"arch among {sorted(ARCHITECTURES)}",
            )
        rows[row_id] = row
    return rows


# --- prepare: the rows' shared tube caches ---------------------------------------------------


def pipeline_sources(
    detections_dir: Path, teachers_dir: Path, levels: list[str]
) -> dict[str, dict[str, tuple[Path, Path]]]:
    """``sources`` of :func:`prepare_inputs` from the pipeline's folders: ``{,frame_}{train,test}``
    ``.npz`` detections and ``.npy`` teacher targets (the ``frame_`` files are the frame level,
    section 3.5)."""
    return {
        level: {
            split: (detections_dir / f"{prefix}{split}.npz", teachers_dir / f"{prefix}{split}.npy")
            for split in SPLITS
        }
        for level, prefix in (("object", ""), ("frame", "frame_"))
        if level in levels
    }


def prepare_inputs(
    dataset: VideoDataset,
    sources: dict[str, dict[str, tuple[Path, Path]]],
    t: int,
    seed: int,
    strides: dict[str, int],
    out_dir: Path,
) -> dict:
    """Tube caches and teacher targets of every level and split under ``out_dir/<level>/``.

    ``sources[level][split]`` = (detections .npz, teachers .npy) written by the pipeline;
    ``strides[split]`` keeps the objects of every n-th frame. ``meta.json`` is written last.
    """
    for level, splits in sources.items():
        for split, (detections_path, teachers_path) in splits.items():
            detections, teachers = load_subsampled(detections_path, teachers_path, strides[split])
            folder = out_dir / level
            folder.mkdir(parents=True, exist_ok=True)
            save_npy(folder / f"{split}_teachers.npy", teachers)
            key = {"detections": detections.meta, "frame_stride": strides[split]}
            build_tube_cache(dataset, split, detections, folder / split, t=t, seed=seed, key=key)
    meta = {
        "t": t,
        "seed": seed,
        "train_frame_stride": strides["train"],
        "test_frame_stride": strides["test"],
        "levels": sorted(sources),
    }
    write_json(out_dir / "meta.json", meta)
    return meta


# --- run: train, score, evaluate one row ------------------------------------------------------


@dataclass
class RowProfile:
    """How every row of a sweep is trained: the paper's values are the defaults (section 4.2)."""

    epochs: int = EPOCHS
    batch_size: int = 0  # 0: the paper's batch for the architecture
    lr: float = LEARNING_RATE
    device: str = "auto"
    precision: str = "auto"  # training autocast (bench.train.use_bf16)
    hyperparameters: str = "paper"  # t and lambda: the paper's for the dataset | the search's


def file_hash(path: Path) -> str:
    """First 12 hex digits of the file's sha256, or ``"absent"``."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "absent"


def output_path(template: Path, row: str, seed: int, rows: int, seeds: int) -> Path:
    """``template`` with ``{row}`` and ``{seed}`` replaced. A command that runs several rows (or
    seeds) writes one file per row (seed), so the template must then hold ``{row}`` (``{seed}``):
    InputError otherwise."""
    text = str(template)
    for name, count in (("row", rows), ("seed", seeds)):
        if count > 1 and f"{{{name}}}" not in text:
            raise InputError(
                f"{count} {name}s need one file each",
                file=template,
                fix=f"put {{{name}}} in the path",
            )
    return Path(text.replace("{row}", row).replace("{seed}", str(seed)))


def sweep_key(dataset: str, inputs_meta: dict, lam: float, profile: RowProfile) -> str:
    """The identity of a sweep: dataset, inputs, lambda, profile and the code's commit."""
    text = json.dumps(
        {
            "dataset": dataset,
            "inputs": inputs_meta,
            "lam": lam,
            "profile": asdict(profile),
            "commit": tracking.git_commit(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def score_and_evaluate(
    model: SSMTL,
    cache: TubeCache,
    targets: np.ndarray | None,
    dataset: VideoDataset,
    map_config: MapConfig,
    stride: int = 1,
    localize: bool = True,
    alpha: float = 0.1,
    beta: float = 0.1,
    head_scale: str = HEAD_SCALE,
    stats: HeadStatistics | None = None,
) -> dict:
    """Eq. (6) object scores of a test cache (on ``head_scale``, with the validation ``stats``
    it needs), its frame scores (section 3.4) and their metrics: AUCs, and with ``localize``
    RBDC/TBDC. ``stride``: the cache holds every n-th test frame."""
    heads = object_scores(model, cache, targets, head_scale=head_scale, stats=stats)
    sizes = frame_sizes(dataset)
    frames = video_frame_scores(cache, heads["score"], sizes, map_config, frame_stride=stride)
    regions = scored_regions(cache, heads["score"], frame_stride=stride) if localize else None
    truth = EveryNthFrame(dataset, stride) if stride > 1 else dataset
    result = evaluate(truth, frames, regions, alpha=alpha, beta=beta)
    per_head = head_frame_scores(cache, heads, model.tasks, sizes, map_config, stride)
    result["per_head"] = per_head_aucs(truth, per_head, cache.root)
    return result


def run_row(
    row: Row,
    seed: int,
    dataset: VideoDataset,
    inputs_dir: Path,
    lam: float,
    profile: RowProfile,
    map_config: MapConfig,
    alpha: float,
    beta: float,
    out_json: Path,
    model_out: Path,
    dvc_lock: Path = DVC_LOCK,
    rows_file: Path = ROWS_FILE,
    head_scale: str = HEAD_SCALE,
) -> dict:
    """Train, score and evaluate ``row`` with ``seed``; one MLflow child run of the sweep, tagged
    with the hash of ``dvc_lock`` (relative to the working directory, the checkout's root). The
    sweep's parent run is named after ``rows_file`` and holds the table of its finished rows
    (``summary.csv``, rewritten after each row)."""
    meta = json.loads((inputs_dir / "meta.json").read_text())
    level_dir = inputs_dir / row.level
    cache = TubeCache.open(level_dir / "train")
    teachers = (
        np.load(level_dir / "train_teachers.npy", mmap_mode="r")
        if "distill" in row.task_names
        else None
    )
    config = TrainConfig(
        arch=row.arch,
        tasks=row.task_names,
        lam=lam,
        epochs=profile.epochs,
        batch_size=profile.batch_size,
        lr=profile.lr,
        seed=seed,
        device=profile.device,
        precision=profile.precision,
    )
    tags = {
        "dataset": dataset.name,
        "row": row.id,
        "arch": row.arch,
        "tasks": "+".join(row.tasks),
        "level": row.level,
        "seed": str(seed),
        "dvc_lock": file_hash(Path(dvc_lock)),
    }
    sweep = sweep_key(dataset.name, meta, lam, profile)
    strides = {k: v for k, v in meta.items() if k.endswith("stride")}
    params = {**asdict(config), "t": meta["t"], **strides}
    parent = tracking.parent_run(
        EXPERIMENT,
        parent_name(rows_file, dataset.name, inputs_dir, sweep),
        {"sweep": sweep, "dataset": dataset.name},
    )
    run_name = f"{row.id}-s{seed}"
    with tracking.run(EXPERIMENT, run_name, params, tags, parent_run_id=parent) as mlflow:
        start = time.perf_counter()
        result = train(cache, teachers, config, on_epoch=lambda e, r: tracking.log_epoch(r, e))
        save_checkpoint(model_out, result, config, meta["t"])
        trained = time.perf_counter()
        model, _, _ = load_checkpoint(model_out)  # scores what was saved
        distills = "distill" in model.tasks
        targets = np.load(level_dir / "test_teachers.npy", mmap_mode="r") if distills else None
        stats = None
        if head_scale != "eq6":
            stats = validation_statistics(model, cache, teachers, False, head_scale)
        metrics = score_and_evaluate(
            model,
            TubeCache.open(level_dir / "test"),
            targets,
            dataset,
            map_config,
            meta["test_frame_stride"],
            row.level == "object",
            alpha,
            beta,
            head_scale,
            stats,
        )
        val = result.best_val
        summary = {
            "row": row.id,
            "dataset": dataset.name,
            "arch": row.arch,
            "tasks": list(row.tasks),
            "level": row.level,
            "seed": seed,
            "t": meta["t"],
            "lam": lam,
            "profile": {**asdict(profile), "batch_size": config.batch_size, **meta},
            "head_scale": head_scale,
            "val": {
                "acc_arrow": val.acc_arrow,
                "acc_motion": val.acc_motion,
                "mae_middle": val.mae_middle,
                "mae_distill": val.mae_distill,
                "joint_loss": val.joint,
            },
            "best_epoch": result.best_epoch,
            "eval": metrics,
            "seconds": {"train": trained - start, "score": time.perf_counter() - trained},
        }
        write_json(out_json, summary)
        tracking.log_best({"best_epoch": result.best_epoch, **val.flat("val")})
        mlflow.log_metrics({k: v for k, v in metrics.items() if isinstance(v, float)})
        mlflow.log_artifact(str(out_json))
    log_sweep_summary(parent)
    return summary


def parent_name(rows_file: Path, dataset: str, inputs_dir: Path, sweep: str) -> str:
    """The sweep's parent run name: the experiment file, the dataset, which sweep (ablation or
    single_task, from the inputs folder) and its key, e.g.
    ``ablation.yaml synthetic ablation (sweep 1a2b3c4d5e6f)``."""
    return f"{rows_file.name} {dataset} {inputs_dir.parent.name} (sweep {sweep})"


SUMMARY_METRICS = ("auc_micro", "auc_macro", "auc_macro_strict", "rbdc", "tbdc")


def sweep_summary(parent_id: str) -> str:
    """The finished child runs of a sweep as a CSV table: row, seed, arch, tasks, level, the
    AUCs, RBDC/TBDC and the best epoch's validation joint loss (empty where absent)."""
    keys = ("row", "seed", "arch", "tasks", "level")
    columns = [*keys, *SUMMARY_METRICS, "best_epoch", "best_val_joint_loss"]
    lines = [",".join(columns)]
    runs = tracking.child_runs(parent_id)
    for run in sorted(runs, key=lambda r: (r.data.tags.get("row", ""), r.data.tags.get("seed"))):
        cells = [run.data.tags.get(k, "") for k in keys]
        cells += [
            f"{run.data.metrics[m]:.4f}" if m in run.data.metrics else "" for m in columns[5:]
        ]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def log_sweep_summary(parent_id: str) -> None:
    """Attach :func:`sweep_summary` to the parent run as ``summary.csv``."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_text(Path(folder) / "summary.csv", sweep_summary(parent_id))
        tracking.log_run_artifact(parent_id, path)
