"""The settings of the search of t and lambda (paper section 4.2): :class:`SearchConfig`.

The defaults are the paper's: the grid ``t in {1, 2, 3, 4}`` x ``lambda in {0.1, 0.2, 0.5, 1.0}``
(:data:`bench.paper.T_GRID`, :data:`bench.paper.LAMBDA_GRID`) scored on the validation joint loss
of eq. (5), each trial trained as in section 4.2 (30 epochs, Adam at 1e-3, the architecture's
batch size). What the paper does not have (TPE, pruning, the ``unweighted`` objective, the
frame stride of the CPU profile) is optional and recorded in the study's identity.

This module imports no torch at load time, so the command line can read its defaults cheaply.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.errors import ParameterError
from bench.paper import EPOCHS, LAMBDA_GRID, LEARNING_RATE, T_GRID, TASKS

if TYPE_CHECKING:
    from bench.train import TrainConfig

TPE_LAM_RANGE = (0.05, 1.0)
DEFAULT_STORAGE = "sqlite:///artifacts/search/optuna.db"
SAMPLERS = ("grid", "tpe")
OBJECTIVES = ("normalized", "joint", "unweighted")
PRUNERS = ("median", "none")
DONE_STATES = ("COMPLETE", "PRUNED")
# fixed: the grid ids stored in the study must mean the same points on every rerun
GRID_SAMPLER_SEED = 0


@dataclass
class SearchConfig:
    """Every knob of a search; the defaults are the paper's grid and objective (section 4.2)."""

    t_values: tuple[int, ...] = T_GRID
    lams: tuple[float, ...] = LAMBDA_GRID
    sampler: str = "grid"  # grid (paper) | tpe
    n_trials: int = 16  # tpe only: trials in the study (the grid runs its points)
    lam_range: tuple[float, float] = TPE_LAM_RANGE  # tpe only: log-uniform lambda range
    # normalized (each task's loss over its loss at chance) | joint (eq. 5) | unweighted
    objective: str = "normalized"
    storage: str = DEFAULT_STORAGE
    study_name: str | None = None  # default: ssmtl-<dataset>
    pruner: str = "median"  # median | none
    pruner_startup: int = 5  # MedianPruner n_startup_trials
    # epochs never pruned (MedianPruner n_warmup_steps = this + 1: steps are epochs 1, 2, ...)
    pruner_warmup: int = 1
    heartbeat: int = 0  # seconds; 0 = a single worker: every RUNNING trial found at start is dead
    # the training run of each trial (TrainConfig fields; lam comes from the trial)
    arch: str = "shallow_narrow"
    tasks: tuple[str, ...] = TASKS
    epochs: int = EPOCHS
    batch_size: int = 0
    lr: float = LEARNING_RATE
    seed: int = 0  # training seed and seed of the tubes' intermittent sequences
    device: str = "auto"
    precision: str = "auto"  # training autocast (bench.train.use_bf16)
    frame_stride: int = 1  # CPU profile: train on the objects of every N-th frame only

    def __post_init__(self) -> None:
        self.t_values = tuple(int(t) for t in self.t_values)
        self.lams = tuple(float(lam) for lam in self.lams)
        self.tasks = tuple(self.tasks)
        self.lam_range = (float(self.lam_range[0]), float(self.lam_range[1]))
        t_values, lams = self.t_values, self.lams
        if not t_values or min(t_values) < 1 or len(set(t_values)) != len(t_values):
            raise ParameterError(f"t values must be distinct integers >= 1, got {t_values}")
        if not lams or min(lams) <= 0 or len(set(lams)) != len(lams):
            raise ParameterError(f"lambda values must be distinct and > 0, got {lams}")
        if self.sampler not in SAMPLERS:
            raise ParameterError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.objective not in OBJECTIVES:
            raise ParameterError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.pruner not in PRUNERS:
            raise ParameterError(f"pruner must be one of {PRUNERS}, got {self.pruner!r}")
        if self.n_trials < 1:
            raise ParameterError(f"n_trials must be >= 1, got {self.n_trials}")
        if not 0 < self.lam_range[0] < self.lam_range[1]:
            raise ParameterError(f"lambda range must be 0 < low < high, got {self.lam_range}")
        if self.frame_stride < 1:
            raise ParameterError(f"frame_stride must be >= 1, got {self.frame_stride}")
        if self.heartbeat < 0 or self.pruner_startup < 0 or self.pruner_warmup < 0:
            raise ParameterError("heartbeat, pruner_startup and pruner_warmup must be >= 0")
        # TrainConfig validates arch, tasks and epochs, and resolves batch size 0 to the paper's
        self.batch_size = self.train_config(self.lams[0]).batch_size
        if "distill" not in self.tasks:
            warnings.warn(
                "lambda weighs only the distillation task, which is not among the "
                "tasks: every lambda trains the same model",
                stacklevel=3,
            )

    def train_config(self, lam: float) -> TrainConfig:
        """The training run of a trial with ``lam`` (eq. 5)."""
        from bench.train import TrainConfig

        return TrainConfig(
            arch=self.arch,
            tasks=self.tasks,
            lam=lam,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            device=self.device,
            precision=self.precision,
        )

    def name_for(self, dataset: str) -> str:
        return self.study_name or f"ssmtl-{dataset}"

    def profile(self) -> dict[str, Any]:
        """The training profile shared by every trial (written to the output)."""
        return {
            "arch": self.arch,
            "tasks": list(self.tasks),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "seed": self.seed,
            "device": self.device,
            "precision": self.precision,
            "frame_stride": self.frame_stride,
        }

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same study: trials of another identity are not comparable.
        (The device, the pruner, the heartbeat and the TPE trial budget may change on a rerun.)"""
        ident = {
            "sampler": self.sampler,
            "objective": self.objective,
            "t_values": list(self.t_values),
            "objects": "widest window fits",  # every trial on the same objects
            **self.profile(),
        }
        ident.pop("device")
        if self.sampler == "grid":
            ident["lams"] = list(self.lams)
        else:
            ident["lam_range"] = list(self.lam_range)
        return ident


def grid_points(config: SearchConfig) -> list[tuple[int, float]]:
    """The grid's ``(t, lam)`` points, in t-major order."""
    return [(t, lam) for t in config.t_values for lam in config.lams]
