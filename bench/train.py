"""Joint training on the four proxy tasks (paper section 3.3, eq. 1-5; setup of section 4.2).

From every training object-centric sequence (a cached tube, :mod:`bench.tubes`) one batch step
builds the samples of each enabled task and their losses, eq. (1)-(4), and the joint loss,
eq. (5): :mod:`bench.tasks` defines them, this module runs the optimisation. Adam, lr 1e-3,
30 epochs, batch 256/128/128/64 objects for shallow_narrow/deep_narrow/shallow_wide/deep_wide
(section 4.2; a batch of B objects holds 2B T1 samples, 2B T2 samples, B T3 and B T4 samples).
The checkpoint kept is the one with the lowest validation joint loss; validation reports T1/T2
accuracy and T3/T4 mean absolute error as Table 4 does. The split is by frame: the first 85% of
each training video's frames train, the last 15% validate.
"""

from __future__ import annotations

import json
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from bench import paper
from bench.devices import PRECISIONS, cpu_bf16_conv3d_agrees, native_bf16, pick_device
from bench.errors import InputError, ParameterError, ProvenanceError
from bench.model import ARCHITECTURES, SSMTL
from bench.paper import N_DISTILL, TASKS
from bench.progress import progress_bar
from bench.tasks import joint_loss, task_losses
from bench.train_data import DeviceCache, batches, load_batch, on_device
from bench.tubes import TubeCache


def use_bf16(precision: str, device: torch.device) -> bool:
    """bf16 autocast for ``precision``; ``auto``: where ``device`` computes bf16 natively (CUDA, a
    CPU with AVX-512 BF16: 1.8x faster training there) and, on a CPU, its bf16 3D convolutions
    agree with fp32 (:func:`~bench.devices.cpu_bf16_conv3d_agrees`); fp32 where bf16 would be
    emulated (~20x slower on an AVX2 CPU) or wrong. docs/deviations.md, "Precision"."""
    if precision == "fp32":
        return False
    native = native_bf16(device)
    if device.type == "cpu" and native and not cpu_bf16_conv3d_agrees():  # it warns
        return precision == "bf16"
    return precision == "bf16" or native


@dataclass
class TrainConfig:
    """Every knob of a training run; the defaults are the paper's (section 4.2)."""

    arch: str = "shallow_narrow"
    tasks: tuple[str, ...] = TASKS
    lam: float = paper.LAMBDA["ped2"]  # eq. (5) lambda; 0.2 is the paper's on Avenue/ShanghaiTech
    epochs: int = paper.EPOCHS
    batch_size: int = 0  # 0: the paper's size for the architecture (paper.BATCH_SIZE)
    lr: float = paper.LEARNING_RATE
    train_fraction: float = paper.TRAIN_FRACTION
    seed: int = 0
    device: str = "auto"  # auto: CUDA when available, else CPU
    precision: str = "auto"  # auto: bf16 autocast where the device has native bf16 | fp32 | bf16
    # CUDA: deterministic kernels (the same numbers run to run); False lets cuDNN pick its fastest
    deterministic: bool = True

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        unknown = set(self.tasks) - set(TASKS)
        if unknown or not self.tasks:
            raise ParameterError(f"tasks must be a non-empty subset of {TASKS}, got {self.tasks}")
        if self.arch not in ARCHITECTURES:
            raise ParameterError(
                f"unknown architecture {self.arch!r}; choose one of {sorted(ARCHITECTURES)}"
            )
        if self.epochs < 1:
            raise ParameterError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size <= 0:
            self.batch_size = paper.BATCH_SIZE[self.arch]
        if self.precision not in PRECISIONS:
            raise ParameterError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")


@dataclass
class EpochStats:
    """Mean losses and Table 4's validation figures of one pass over a split."""

    losses: dict[str, float] = field(default_factory=dict)
    joint: float = 0.0
    acc_arrow: float | None = None
    acc_motion: float | None = None
    mae_middle: float | None = None
    mae_distill: float | None = None
    samples_per_s: float = 0.0

    def flat(self, prefix: str) -> dict[str, float]:
        values = {f"{prefix}_loss_{k}": v for k, v in self.losses.items()}
        values[f"{prefix}_joint_loss"] = self.joint
        for name in ("acc_arrow", "acc_motion", "mae_middle", "mae_distill"):
            if getattr(self, name) is not None:
                values[f"{prefix}_{name}"] = getattr(self, name)
        values[f"{prefix}_objects_per_s"] = self.samples_per_s
        return values


def run_epoch(
    model: SSMTL,
    cache: TubeCache | DeviceCache,
    teachers: np.ndarray | torch.Tensor | None,
    rows: np.ndarray,
    config: TrainConfig,
    optimizer: torch.optim.Optimizer | None,
    rng: np.random.Generator | None,
    desc: str,
) -> EpochStats:
    """One pass over ``rows``: training when ``optimizer`` is given, else evaluation."""
    device = next(model.parameters()).device
    model.train(optimizer is not None)
    sums: dict[str, float] = {}
    start, seen = time.perf_counter(), 0
    autocast = torch.autocast(
        device.type, dtype=torch.bfloat16, enabled=use_bf16(config.precision, device)
    )
    with torch.set_grad_enabled(optimizer is not None):
        batch_list = list(batches(rows, config.batch_size, rng))
        for batch_rows in progress_bar(batch_list, desc=desc, leave=False):
            batch = load_batch(cache, teachers, batch_rows, device)
            with autocast:
                losses, figures = task_losses(model, batch, config.tasks)
                loss = joint_loss(losses, config.lam)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            n = len(batch_rows)
            seen += n
            scalars = {
                **{f"loss_{k}": float(v.detach()) * n for k, v in losses.items()},
                "joint": float(loss.detach()) * n,
                **figures,
            }
            for name, value in scalars.items():
                sums[name] = sums.get(name, 0.0) + value
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    mean = {k: v / max(seen, 1) for k, v in sums.items()}
    return EpochStats(
        losses={k[5:]: v for k, v in mean.items() if k.startswith("loss_")},
        joint=mean.get("joint", math.nan),
        acc_arrow=mean["correct_arrow"] / 2 if "correct_arrow" in mean else None,
        acc_motion=mean["correct_motion"] / 2 if "correct_motion" in mean else None,
        mae_middle=mean.get("abs_middle"),
        mae_distill=mean.get("abs_distill"),
        samples_per_s=seen / elapsed if elapsed > 0 else 0.0,
    )


@dataclass
class TrainResult:
    state_dict: dict[str, torch.Tensor]
    best_epoch: int
    best_val: EpochStats
    history: list[dict[str, float]]


def set_threads(threads: int) -> None:
    """Pin torch's CPU threads; 0 leaves torch's default (all cores). Results depend on the count,
    as float sums split differently across threads (README "Threads")."""
    if threads > 0:
        torch.set_num_threads(threads)


def seed_everything(seed: int, device: torch.device, deterministic: bool = True) -> None:
    """Seed torch and numpy; on CUDA also switch to deterministic algorithms (cuDNN's defaults
    are not), or with ``deterministic=False`` let cuDNN time and pick its fastest kernels. The
    CPU kernels used here are deterministic for a fixed thread count already, and the switch
    would cost every CPU process ~2 s of imports and a NaN fill of each new tensor."""
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the legacy global generator, for code that uses it)
    if device.type == "cuda":
        torch.use_deterministic_algorithms(deterministic, warn_only=True)
        torch.backends.cudnn.benchmark = not deterministic


def train(
    cache: TubeCache,
    teachers: np.ndarray | None,
    config: TrainConfig,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    objects: np.ndarray | None = None,
    checkpoint_dir: Path | None = None,
    time_budget_s: float = 0.0,
) -> TrainResult:
    """Train an SSMTL model on a training tube cache; keep the lowest validation joint loss.

    ``objects`` (tube indices) restricts training and validation to those tubes: the search of t
    and lambda validates every trial on the same objects (:mod:`bench.suite.search_objective`).
    ``checkpoint_dir`` keeps every epoch's weights (``epoch_001.pt``, ..., loadable with
    :func:`load_checkpoint`) and the state to resume from (``resume.pt``): a run started again
    with the same config continues after its last finished epoch, with the same result.
    ``time_budget_s`` > 0 stops before an epoch that would end past that many seconds (judged by
    the slowest epoch so far); run again with a budget, it resumes there. On a CUDA device the
    cache is copied into device memory when it fits (:func:`bench.train_data.on_device`)."""
    if "distill" in config.tasks and teachers is None:
        raise InputError("task 'distill' needs teacher targets (ssmtl teachers)")
    if "motion" in config.tasks and cache.intermittent is None:
        raise ProvenanceError(
            "task 'motion' needs a training cache with intermittent sequences",
            file=cache.root,
            fix="give the training tube cache (ssmtl tubes --split train)",
        )
    device = pick_device(config.device)
    seed_everything(config.seed, device, config.deterministic)
    n_distill = teachers.shape[1] if teachers is not None else N_DISTILL
    model = SSMTL(config.arch, config.tasks, n_distill=n_distill).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    train_rows, val_rows = cache.train_val_split(config.train_fraction)
    if objects is not None:
        train_rows, val_rows = (
            np.intersect1d(train_rows, objects),
            np.intersect1d(val_rows, objects),
        )
    if len(train_rows) == 0 or len(val_rows) == 0:
        raise InputError(
            f"{len(train_rows)} training and {len(val_rows)} validation tubes; need both",
            file=cache.root,
            fix="give more detections (a lower --confidence or --frame-stride)",
        )
    rng = np.random.default_rng(config.seed)
    best: TrainResult | None = None
    history: list[dict[str, float]] = []
    if checkpoint_dir is not None:
        best, history = resume(checkpoint_dir, config, model, optimizer, rng)
    source, targets = on_device(cache, teachers, device)
    start, slowest = time.perf_counter(), 0.0
    for epoch in progress_bar(
        range(len(history) + 1, config.epochs + 1),
        desc=f"train {config.arch}",
        initial=len(history),
        total=config.epochs,
    ):
        elapsed = time.perf_counter() - start
        if time_budget_s > 0 and best is not None and elapsed + slowest > time_budget_s:
            break
        fit = run_epoch(
            model, source, targets, train_rows, config, optimizer, rng, f"epoch {epoch}"
        )
        val = run_epoch(model, source, targets, val_rows, config, None, None, "validate")
        slowest = max(slowest, time.perf_counter() - start - elapsed)
        record = {"epoch": epoch, **fit.flat("train"), **val.flat("val")}
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
        if best is None or val.joint < best.best_val.joint:
            state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            best = TrainResult(state, epoch, val, history)
        if checkpoint_dir is not None:
            save_epoch(checkpoint_dir, epoch, model, optimizer, rng, best, config, cache.t)
    assert best is not None
    best.history = history
    return best


def save_checkpoint(path: Path, result: TrainResult, config: TrainConfig, t: int) -> None:
    """Weights plus the config (plain types only, so ``torch.load(weights_only=True)`` reads it)."""
    save_torch(
        path,
        {
            "state_dict": result.state_dict,
            "config": asdict(config),
            "t": t,
            "best_epoch": result.best_epoch,
        },
    )


def save_torch(path: Path, data: dict) -> None:
    """``torch.save`` through a temporary file, so a kill never leaves a half-written ``path``."""
    # not bench.io.atomic_path: torch names the archive's inner folder after the file, and a
    # ``ssmtl.pt.tmp`` keeps it ``ssmtl.pt`` (the same bytes as a direct save)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(data, tmp)
    tmp.replace(path)


def config_from_dict(values: dict) -> TrainConfig:
    """A :class:`TrainConfig` from its ``asdict`` form; checkpoints written before ``precision``
    carry a ``bf16`` flag (autocast on CUDA only), which reads as ``auto``."""
    values = {k: v for k, v in values.items() if k != "bf16"}
    return TrainConfig(**{**values, "tasks": tuple(values["tasks"])})


def save_epoch(
    directory: Path,
    epoch: int,
    model: SSMTL,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    best: TrainResult,
    config: TrainConfig,
    t: int,
) -> None:
    """The weights of ``epoch`` (``epoch_NNN.pt``) and, written last, the state to resume from."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    save_checkpoint(
        directory / f"epoch_{epoch:03d}.pt", TrainResult(state, epoch, best.best_val, []), config, t
    )
    save_torch(
        directory / "resume.pt",
        {
            "config": asdict(config),
            "t": t,
            "epoch": epoch,
            "model": state,
            "optimizer": optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            # JSON: PCG64's 128-bit integers, read back without unpickling
            "numpy_rng": json.dumps(rng.bit_generator.state),
            "history": json.dumps(best.history),
            "best_epoch": best.best_epoch,
            "best_state": best.state_dict,
            "best_val": json.dumps(asdict(best.best_val)),
        },
    )


def resume(
    directory: Path,
    config: TrainConfig,
    model: SSMTL,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
) -> tuple[TrainResult | None, list[dict[str, float]]]:
    """Restore ``directory/resume.pt`` into ``model``, ``optimizer`` and ``rng``: the best result
    so far and the history of the finished epochs (``None, []`` when there is nothing to resume)."""
    path = directory / "resume.pt"
    if not path.exists():
        return None, []
    data = torch.load(path, map_location="cpu", weights_only=True)
    defaults = {f.name: f.default for f in fields(TrainConfig)}  # knobs added since it was saved
    saved = {k: v for k, v in {**defaults, **data["config"]}.items() if k != "epochs"}
    wanted = {k: v for k, v in asdict(config).items() if k != "epochs"}
    if saved != wanted:
        changed = sorted(k for k in wanted if saved.get(k) != wanted[k])
        raise InputError(
            f"the run to resume was trained with other settings ({', '.join(changed)})",
            file=path,
            fix="delete the folder to start afresh or restore those settings",
        )
    model.load_weights(data["model"], path)
    optimizer.load_state_dict(data["optimizer"])
    torch.set_rng_state(data["torch_rng"])
    rng.bit_generator.state = json.loads(data["numpy_rng"])
    history = json.loads(data["history"])[: config.epochs]
    best = TrainResult(
        data["best_state"],
        int(data["best_epoch"]),
        EpochStats(**json.loads(data["best_val"])),
        history,
    )
    return best, history


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[SSMTL, TrainConfig, int]:
    """The model a :func:`save_checkpoint` file holds (no code unpickled), else InputError."""
    fix = "give the checkpoint ssmtl train wrote (train again if it was cut short)"
    if not Path(path).is_file():
        raise InputError("model checkpoint does not exist", file=path, fix=fix)
    try:
        data = torch.load(path, map_location=device, weights_only=True)
    except (EOFError, RuntimeError, pickle.UnpicklingError, ValueError) as error:
        reason = f"{type(error).__name__}: {' '.join(str(error).split())[:120]}"
        raise InputError(f"not a readable checkpoint ({reason})", path, fix) from error
    if not isinstance(data, dict) or not {"config", "state_dict", "t"} <= set(data):
        raise InputError("not a checkpoint of ssmtl train", path, fix)
    config = config_from_dict(data["config"])
    distill = data["state_dict"].get("heads.distill.fc.weight")
    n_distill = distill.shape[0] if distill is not None else N_DISTILL
    model = SSMTL(config.arch, config.tasks, n_distill=n_distill)
    model.load_weights(data["state_dict"], path)
    return model.to(device).eval(), config, int(data["t"])
