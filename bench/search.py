"""Hyperparameter search of t and lambda (paper section 4.2): one Optuna study per dataset.

The paper tunes the temporal size ``t`` (frames ``i-t .. i+t``) over ``{1, 2, 3, 4}`` and the
distillation weight ``lambda`` of eq. (5) over ``{0.1, 0.2, 0.5, 1.0}`` on the validation joint
loss, and reports ``t = 3`` with ``lambda = 0.5`` on Ped2 and ``0.2`` on Avenue/ShanghaiTech.
:func:`run_search` reproduces that procedure:

* **Trials.** Each trial trains an SSMTL model (:func:`bench.train.train`) with one ``(t, lam)``
  on a training tube cache built with that ``t`` (``<tubes_root>/t<t>``, built once by
  :func:`bench.tubes.build_tube_cache` and reused by every trial and rerun) and returns its
  validation objective; test labels are never read. The default sampler is Optuna's
  ``GridSampler`` over the paper's grid (16 trials); ``sampler="tpe"`` is the option the paper does
  not have: ``TPESampler``, ``t`` categorical, ``lambda`` continuous log-uniform in
  ``[0.05, 1.0]``, ``n_trials`` trials.
* **Objective.** ``"joint"`` (default, the paper's): the validation joint loss of eq. (5),
  ``L1 + L2 + L3 + lambda * L4``, the lowest over the epochs (the checkpoint training keeps).
  Caveat: this loss shrinks with ``lambda`` *by construction* (``L4 >= 0`` is multiplied by it),
  so comparing it across lambdas favours the smallest lambda of the grid whatever the model
  learns; it is kept as the default because it is what the paper says it tuned on.
  ``"unweighted"`` scores every trial with ``lambda = 1`` at validation (``L1 + L2 + L3 + L4``, the
  lowest over the epochs), a criterion on which lambdas can be compared (lambda still weighs L4
  during training).
* **Pruning.** After every epoch the trial reports its best validation objective so far
  (``trial.report(value, epoch)``); Optuna's ``MedianPruner`` (``n_startup_trials`` finished trials
  before it prunes, none in the first ``pruner_warmup`` epochs) stops trials that are worse than
  the median of the others at the same epoch. A pruned trial counts as done; its value is its
  last report. ``pruner="none"`` disables it.
* **Storage and resuming.** The study lives in an Optuna RDB storage, by default the SQLite file
  ``artifacts/search/optuna.db`` (relative to the working folder). Rerunning the same command
  resumes the study: completed and pruned trials are never rerun, and a trial that was running
  when the process was killed (it stays ``RUNNING`` in the storage) is marked ``FAIL`` and its
  parameters are queued again (same grid point, a new trial number), so the grid completes. For the
  grid, exactly the points without a ``COMPLETE`` or ``PRUNED`` trial run. A study created with
  another grid, objective or training profile is refused (ValueError): use another
  ``--study-name``.
* **Several machines.** Point every worker at one server database, e.g.
  ``--storage postgresql://user@host/db`` (any SQLAlchemy URL; the password is best put in
  ``~/.pgpass``, and is never written to the outputs), and give ``--heartbeat 60``: with a
  heartbeat, a ``RUNNING`` trial is only considered dead (failed and requeued) when its heartbeat
  is older than twice that interval, so workers leave each other's live trials alone. Without a
  heartbeat (the default, one worker), every ``RUNNING`` trial found at start is taken for a
  killed one. Workers started at the same instant may queue a point twice (Optuna's
  ``enqueue``/``GridSampler`` are not transactional); start them a few seconds apart.
* **Tracking.** One MLflow parent run per study (experiment ``ssmtl-search``, tagged
  ``optuna_study`` and ``optuna_storage``; a resumed study resumes the same run), one nested child
  run per trial (params ``t``, ``lam`` and the training profile, per-epoch metrics, tags
  ``optuna_trial`` and ``optuna_trial_state``). Child runs of killed trials are closed as
  ``KILLED`` with state ``FAIL`` when the study resumes.
* **Output.** A JSON file (atomic write; the DVC-tracked output later stages read with
  :func:`read_best`): the best ``t``/``lam``, the paper's values, every trial, the profile.

Defaults: the paper's grid, objective and training (30 epochs, the architecture's paper batch
size); TPE gets the grid's budget (16 trials); the pruner waits for Optuna's default 5 finished
trials and never prunes a trial's first epoch (pruning is ours, the paper trains every point). On
a CPU, shrink a trial with ``--epochs`` and ``--frame-stride`` (recorded in the output's profile).

CLI (``python -m bench.search NAME --root DIR --detections FILE --teachers FILE ...``; ``--help``
lists every option; default output ``metrics/search.json``). Exit code 2 on bad input. Interrupt
it at any point and run the same command again to resume.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bench.model import ARCHITECTURES, TASKS
from bench.atomic import write_json
from bench.pipeline import load_subsampled
from bench.train import TrainConfig

PAPER_T_VALUES = (1, 2, 3, 4)
PAPER_LAMS = (0.1, 0.2, 0.5, 1.0)
TPE_LAM_RANGE = (0.05, 1.0)
DEFAULT_STORAGE = "sqlite:///artifacts/search/optuna.db"
SAMPLERS = ("grid", "tpe")
OBJECTIVES = ("joint", "unweighted")
PRUNERS = ("median", "none")
# The paper's best values (section 4.2); ped1 and the synthetic scenes follow Ped2.
PAPER_BEST = {"ped1": (3, 0.5), "ped2": (3, 0.5), "synthetic": (3, 0.5), "avenue": (3, 0.2), "shanghaitech": (3, 0.2)}
DONE_STATES = ("COMPLETE", "PRUNED")
GRID_SAMPLER_SEED = 0  # fixed: grid ids stored in the study must mean the same points on every rerun


@dataclass
class SearchConfig:
    """Every knob of a search; the defaults are the paper's grid and objective (see module doc)."""

    t_values: tuple[int, ...] = PAPER_T_VALUES
    lams: tuple[float, ...] = PAPER_LAMS
    sampler: str = "grid"  # grid (paper) | tpe
    n_trials: int = 16  # tpe only: trials in the study (the grid runs its points)
    lam_range: tuple[float, float] = TPE_LAM_RANGE  # tpe only: log-uniform lambda range
    objective: str = "joint"  # joint (paper, eq. 5) | unweighted (lambda = 1 at validation)
    storage: str = DEFAULT_STORAGE
    study_name: str | None = None  # default: ssmtl-<dataset>
    pruner: str = "median"  # median | none
    pruner_startup: int = 5  # MedianPruner n_startup_trials
    pruner_warmup: int = 1  # epochs never pruned (MedianPruner n_warmup_steps = this + 1: steps are epochs 1, 2, ...)
    heartbeat: int = 0  # seconds; 0 = a single worker: every RUNNING trial found at start is dead
    # the training run of each trial (TrainConfig fields; lam comes from the trial)
    arch: str = "shallow_narrow"
    tasks: tuple[str, ...] = TASKS
    epochs: int = 30
    batch_size: int = 0
    lr: float = 1e-3
    seed: int = 0  # training seed and seed of the tubes' intermittent sequences
    device: str = "auto"
    frame_stride: int = 1  # CPU profile: train on the objects of every N-th frame only

    def __post_init__(self) -> None:
        self.t_values = tuple(int(t) for t in self.t_values)
        self.lams = tuple(float(lam) for lam in self.lams)
        self.tasks = tuple(self.tasks)
        self.lam_range = (float(self.lam_range[0]), float(self.lam_range[1]))
        if not self.t_values or min(self.t_values) < 1 or len(set(self.t_values)) != len(self.t_values):
            raise ValueError(f"t values must be distinct integers >= 1, got {self.t_values}")
        if not self.lams or min(self.lams) <= 0 or len(set(self.lams)) != len(self.lams):
            raise ValueError(f"lambda values must be distinct and > 0, got {self.lams}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner must be one of {PRUNERS}, got {self.pruner!r}")
        if self.n_trials < 1:
            raise ValueError(f"n_trials must be >= 1, got {self.n_trials}")
        if not 0 < self.lam_range[0] < self.lam_range[1]:
            raise ValueError(f"lambda range must be 0 < low < high, got {self.lam_range}")
        if self.frame_stride < 1:
            raise ValueError(f"frame_stride must be >= 1, got {self.frame_stride}")
        if self.heartbeat < 0 or self.pruner_startup < 0 or self.pruner_warmup < 0:
            raise ValueError("heartbeat, pruner_startup and pruner_warmup must be >= 0")
        self.batch_size = self.train_config(self.lams[0]).batch_size  # validates arch, tasks, epochs; resolves 0
        if "distill" not in self.tasks:
            warnings.warn("lambda weighs only the distillation task, which is not among the tasks: every lambda trains the same model", stacklevel=3)

    def train_config(self, lam: float) -> TrainConfig:
        return TrainConfig(arch=self.arch, tasks=self.tasks, lam=lam, epochs=self.epochs, batch_size=self.batch_size,
                           lr=self.lr, seed=self.seed, device=self.device)

    def name_for(self, dataset: str) -> str:
        return self.study_name or f"ssmtl-{dataset}"

    def profile(self) -> dict[str, Any]:
        """The training profile shared by every trial (written to the output)."""
        return {"arch": self.arch, "tasks": list(self.tasks), "epochs": self.epochs, "batch_size": self.batch_size,
                "lr": self.lr, "seed": self.seed, "device": self.device, "frame_stride": self.frame_stride}

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same study: trials of another identity are not comparable.
        (The device, the pruner, the heartbeat and the TPE trial budget may change on a rerun.)"""
        ident = {"sampler": self.sampler, "objective": self.objective, "t_values": list(self.t_values), **self.profile()}
        ident.pop("device")
        if self.sampler == "grid":
            ident["lams"] = list(self.lams)
        else:
            ident["lam_range"] = list(self.lam_range)
        return ident


# --- the study -----------------------------------------------------------------------------------


def grid_points(config: SearchConfig) -> list[tuple[int, float]]:
    """The grid's ``(t, lam)`` points, in t-major order."""
    return [(t, lam) for t in config.t_values for lam in config.lams]


def make_sampler(config: SearchConfig):
    import optuna

    if config.sampler == "grid":
        return optuna.samplers.GridSampler({"t": list(config.t_values), "lam": list(config.lams)}, seed=GRID_SAMPLER_SEED)
    return optuna.samplers.TPESampler(seed=config.seed)


def make_pruner(config: SearchConfig):
    import optuna

    if config.pruner == "none":
        return optuna.pruners.NopPruner()
    # epochs are reported as steps 1, 2, ...: MedianPruner never prunes at a step < n_warmup_steps
    return optuna.pruners.MedianPruner(n_startup_trials=config.pruner_startup, n_warmup_steps=config.pruner_warmup + 1)


def suggest(trial, config: SearchConfig) -> tuple[int, float]:
    """The trial's ``(t, lam)``: the grid's categorical values, or TPE's t and log-uniform lambda."""
    t = int(trial.suggest_categorical("t", list(config.t_values)))
    if config.sampler == "grid":
        return t, float(trial.suggest_categorical("lam", list(config.lams)))
    return t, float(trial.suggest_float("lam", *config.lam_range, log=True))


def normalize_storage(url: str) -> str:
    """``url`` with a relative SQLite path made absolute (its folder created): the same study
    whatever the working folder of a later call. Other URLs are returned unchanged."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ValueError(f"--storage {url!r} is not an SQLAlchemy database URL ({error})") from error
    if parsed.get_backend_name() != "sqlite":
        return url
    if not parsed.database or parsed.database == ":memory:":
        raise ValueError(f"--storage {url!r}: an in-memory SQLite database cannot hold a resumable study; give a file")
    path = Path(parsed.database).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def public_storage(url: str) -> str:
    """``url`` with its password removed (for outputs and tags)."""
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.password is None:
        return url
    # URL.set(password=None) leaves the password as it is (None means "unchanged"): rebuild the URL
    bare = URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query)
    return bare.render_as_string(hide_password=False)


def open_study(config: SearchConfig, study_name: str, storage_url: str):
    """Create the study or load it; refuse one created for another grid/objective/profile."""
    import optuna

    storage = optuna.storages.RDBStorage(
        storage_url,
        heartbeat_interval=config.heartbeat or None,
        grace_period=2 * config.heartbeat if config.heartbeat else None,
        heartbeat_stale_trial_callback=requeue if config.heartbeat else None,
    )
    study = optuna.create_study(storage=storage, study_name=study_name, load_if_exists=True, direction="minimize",
                                sampler=make_sampler(config), pruner=make_pruner(config))
    identity = json.loads(json.dumps(config.identity()))
    stored = study.user_attrs.get("search")
    if stored is None:
        if study.trials:
            raise ValueError(f"study {study_name!r} in {public_storage(storage_url)} was not made by bench.search; use another --study-name")
        study.set_user_attr("search", identity)
    elif stored != identity:
        diff = {k: (stored.get(k), identity.get(k)) for k in sorted(set(stored) | set(identity)) if stored.get(k) != identity.get(k)}
        raise ValueError(f"study {study_name!r} in {public_storage(storage_url)} was created with other settings "
                         f"(stored, given): {diff}; use another --study-name or the same settings")
    return study


def requeue(study, trial) -> None:
    """Queue a failed trial's point again: same params (and for the grid the same grid id, so the
    GridSampler does not count the point twice), a new trial number (Optuna's
    RetryFailedTrialCallback does the same)."""
    import optuna

    system_attrs = {k: v for k, v in trial.system_attrs.items() if k in ("grid_id", "search_space", "fixed_params")}
    system_attrs["retry_of"] = trial.number
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.WAITING, params=trial.params,
                                              distributions=trial.distributions, system_attrs=system_attrs))


def fail_stale_trials(study, config: SearchConfig) -> list[int]:
    """Mark the trials left ``RUNNING`` by a killed process ``FAIL`` and queue their points again;
    returns their numbers. Without a heartbeat every RUNNING trial is stale (one worker); with one,
    only those whose heartbeat is older than the grace period (Optuna's own check)."""
    import optuna
    from optuna.trial import TrialState

    if config.heartbeat:
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # calls requeue for each
        still = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        return sorted(before - still)
    failed = []
    for trial in study.get_trials(deepcopy=True, states=(TrialState.RUNNING,)):
        # Not study.tell: it runs GridSampler.after_trial, which calls study.stop() once every grid
        # point was started, and Study.stop raises outside optimize(). Optuna's own
        # fail_stale_trials sets the state on the storage in the same way.
        try:
            study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # finished meanwhile
        requeue(study, trial)
        failed.append(trial.number)
    return failed


def point_of(trial) -> tuple[int, float] | None:
    if "t" in trial.params and "lam" in trial.params:
        return int(trial.params["t"]), float(trial.params["lam"])
    return None


def pending(study, config: SearchConfig) -> int:
    """Trials still to run: grid points with no COMPLETE/PRUNED trial (queueing again the point of a
    failed trial that no queued or running trial covers), or the TPE budget left."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if config.sampler == "tpe":
        done = sum(t.state.name in DONE_STATES for t in trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        return max(0, config.n_trials - done - running)
    by_point: dict[tuple[int, float], list] = {}
    for trial in trials:
        point = point_of(trial)
        if point is not None:
            by_point.setdefault(point, []).append(trial)
    count = 0
    for point in grid_points(config):
        states = {t.state for t in by_point.get(point, [])}
        if states & {TrialState.COMPLETE, TrialState.PRUNED}:
            continue
        if TrialState.RUNNING in states:  # another live worker (heartbeat mode) runs it
            continue
        if TrialState.WAITING not in states and TrialState.FAIL in states:
            requeue(study, max(by_point[point], key=lambda t: t.number))
        count += 1
    return count


# --- the objective ---------------------------------------------------------------------------------


def objective_value(record: dict[str, float], config: SearchConfig) -> float:
    """The validation objective of one epoch's record (see module doc)."""
    if config.objective == "joint":
        return float(record["val_joint_loss"])
    return float(sum(record[f"val_loss_{task}"] for task in config.tasks))


def load_training_data(dataset, detections_path: Path, teachers_path: Path | None, tubes_root: Path, config: SearchConfig) -> tuple[dict, np.ndarray | None]:
    """The training tube cache of every t (built once, resumable) and the teachers aligned with the
    (frame-stride subsampled) detections."""
    from bench.tubes import build_tube_cache

    teachers_path = teachers_path if "distill" in config.tasks else None
    if teachers_path is not None and not Path(teachers_path).is_file():
        raise FileNotFoundError(f"{teachers_path}: teachers file does not exist")
    detections, teachers = load_subsampled(detections_path, teachers_path, config.frame_stride)
    key = {"detections": detections.meta, "search_frame_stride": config.frame_stride}
    caches = {t: build_tube_cache(dataset, "train", detections, Path(tubes_root) / f"t{t}", t=t, seed=config.seed, key=key)
              for t in config.t_values}
    return caches, teachers


def make_objective(caches: dict, teachers: np.ndarray | None, config: SearchConfig, study_name: str,
                   trainer: Callable | None = None) -> Callable:
    """The Optuna objective: train with the trial's (t, lam) as a nested MLflow run, report the best
    validation objective after each epoch, prune on the pruner's word."""
    import mlflow
    import optuna

    from bench.train import train

    trainer = trainer or train

    def objective(trial: optuna.Trial) -> float:
        t, lam = suggest(trial, config)
        train_config = config.train_config(lam)
        parent = mlflow.active_run()
        tags = {"optuna_study": study_name, "optuna_trial": str(trial.number), "optuna_trial_state": "RUNNING"}
        child = mlflow.start_run(run_name=f"{study_name}-trial-{trial.number}", nested=True, tags=tags,
                                 experiment_id=parent.info.experiment_id if parent is not None else None)
        trial.set_user_attr("mlflow_run_id", child.info.run_id)
        mlflow.log_params({"t": t, "lam": lam, "objective": config.objective, "frame_stride": config.frame_stride,
                           **{k: str(v) for k, v in asdict(train_config).items() if k != "lam"}})
        best = math.inf

        def on_epoch(epoch: int, record: dict[str, float]) -> None:
            nonlocal best
            value = objective_value(record, config)
            best = min(best, value)
            mlflow.log_metrics({**record, "objective": value, "objective_best": best}, step=epoch)
            trial.set_user_attr("epochs_run", epoch)
            trial.report(best, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"epoch {epoch}: {config.objective} {best:.4f}")

        state, status = "FAIL", "FAILED"
        try:
            trainer(caches[t], teachers, train_config, on_epoch=on_epoch)
            state, status = "COMPLETE", "FINISHED"
        except optuna.TrialPruned:
            state, status = "PRUNED", "FINISHED"
            raise
        finally:
            mlflow.set_tag("optuna_trial_state", state)
            if math.isfinite(best):
                mlflow.log_metric("value", best)
            mlflow.end_run(status)
        return best

    return objective


# --- output ----------------------------------------------------------------------------------------


def trial_rows(study) -> list[dict[str, Any]]:
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name == "WAITING":
            continue
        point = point_of(trial)
        rows.append({"number": trial.number, "t": point[0] if point else None, "lam": point[1] if point else None,
                     "state": trial.state.name, "value": trial.value, "epochs_run": int(trial.user_attrs.get("epochs_run", 0))})
    return rows


def summarize(study, dataset_name: str, config: SearchConfig, storage_url: str) -> dict[str, Any]:
    """The output JSON's content; ``best`` is the COMPLETE trial with the lowest value."""
    rows = trial_rows(study)
    complete = [row for row in rows if row["state"] == "COMPLETE" and row["value"] is not None]
    if not complete:
        raise ValueError(f"study {study.study_name!r}: no completed trial (every trial was pruned or failed)")
    best = min(complete, key=lambda row: (row["value"], row["number"]))
    paper_t, paper_lam = PAPER_BEST.get(dataset_name, (3, 0.5))
    return {
        "dataset": dataset_name,
        "objective": config.objective,
        "sampler": config.sampler,
        "storage": public_storage(storage_url),
        "study_name": study.study_name,
        "best": {"t": best["t"], "lam": best["lam"], "value": best["value"], "trial": best["number"]},
        "paper": {"t": paper_t, "lam": paper_lam},
        "trials": rows,
        "profile": config.profile(),
    }


def read_best(path: str | Path) -> tuple[int, float]:
    """``(t, lam)`` of a search output; ValueError naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: search output does not exist (run python -m bench.search)")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a search output, unreadable JSON ({error})") from error
    best = data.get("best") if isinstance(data, dict) else None
    if not isinstance(best, dict):
        raise ValueError(f"{path}: not a search output, missing key 'best'")
    for key in ("t", "lam"):
        if best.get(key) is None:
            raise ValueError(f"{path}: not a search output, missing key 'best.{key}'")
    try:
        return int(best["t"]), float(best["lam"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: best t/lam are not numbers ({error})") from error


# --- the search ------------------------------------------------------------------------------------


def close_stale_child_runs(mlflow, parent_run_id: str, study) -> None:
    """Child runs left RUNNING by a killed process: closed as KILLED, tagged with the trial's state."""
    from mlflow import MlflowClient

    client = MlflowClient()
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    states = {t.number: t.state.name for t in study.get_trials(deepcopy=False)}
    runs = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}' and attributes.status = 'RUNNING'")
    for run in runs:
        number = int(run.data.tags.get("optuna_trial", -1))
        if states.get(number, "FAIL") != "RUNNING":
            client.set_tag(run.info.run_id, "optuna_trial_state", states.get(number, "FAIL"))
            client.set_terminated(run.info.run_id, status="KILLED")


def run_search(dataset, detections_path: Path, teachers_path: Path | None, tubes_root: Path, config: SearchConfig,
               out_json: Path, experiment: str = "ssmtl-search", trainer: Callable | None = None) -> dict:
    """Run (or resume) the study of ``dataset`` and write ``out_json``; returns its content.
    ``trainer`` replaces :func:`bench.train.train` (tests)."""
    from tqdm import tqdm

    from bench import tracking

    if "distill" in config.tasks and teachers_path is None:
        raise ValueError("task 'distill' needs teacher targets: give --teachers (ssmtl teachers --split train)")
    study_name = config.name_for(dataset.name)
    storage_url = normalize_storage(config.storage)
    public = public_storage(storage_url)
    study = open_study(config, study_name, storage_url)
    failed = fail_stale_trials(study, config)
    caches, teachers = load_training_data(dataset, Path(detections_path), teachers_path, Path(tubes_root), config)

    params = {"dataset": dataset.name, "study_name": study_name, "storage": public, "pruner": config.pruner,
              "pruner_startup": config.pruner_startup, "pruner_warmup": config.pruner_warmup,
              **{k: (",".join(map(str, v)) if isinstance(v, (list, tuple)) else v) for k, v in config.identity().items()}}
    tags = {"dataset": dataset.name, "sampler": config.sampler, "objective": config.objective, "optuna_role": "study"}
    match = {"optuna_study": study_name, "optuna_storage": public}
    with tracking.resumable_run(experiment, study_name, params, tags, match) as (mlflow, resumed):
        parent_id = mlflow.active_run().info.run_id
        if resumed:
            close_stale_child_runs(mlflow, parent_id, study)
        objective = make_objective(caches, teachers, config, study_name, trainer)
        total = pending(study, config)
        with tqdm(total=total, desc=f"search {study_name}", unit="trial") as bar:
            if failed:
                bar.write(f"resumed: trial(s) {failed} were left running by a killed process; marked FAIL, queued again")

            def after(study, trial) -> None:
                bar.update(1)
                value = "-" if trial.value is None else f"{trial.value:.4f}"
                bar.write(f"trial {trial.number}: t={trial.params.get('t')} lam={trial.params.get('lam')} {trial.state.name} {value}")
                if trial.value is not None:
                    mlflow.log_metric("trial_value", trial.value, step=trial.number)

            while True:
                todo = pending(study, config)
                if todo == 0:
                    break
                finished = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
                # the GridSampler may stop a round early (it counts a failed point as visited): loop
                study.optimize(objective, n_trials=todo, callbacks=[after])
                if sum(t.state.is_finished() for t in study.get_trials(deepcopy=False)) == finished:
                    break
        summary = summarize(study, dataset.name, config, config.storage)
        write_json(Path(out_json), summary)
        mlflow.log_metrics({"best_value": summary["best"]["value"], "best_t": summary["best"]["t"], "best_lam": summary["best"]["lam"]})
        mlflow.set_tag("best_trial", str(summary["best"]["trial"]))
        mlflow.log_artifact(str(out_json))
    return summary


# --- command line ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from bench.cli import add_dataset_arguments, comma_floats, comma_ints

    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n\n")[0],
                                     epilog="Rerun the same command to resume a killed search; see the module docstring.")
    add_dataset_arguments(parser)
    parser.add_argument("--detections", required=True, type=Path, help="training detections (.npz, ssmtl detect --split train)")
    parser.add_argument("--teachers", type=Path, help="training distillation targets (.npy); required with the distill task")
    parser.add_argument("--tubes-root", type=Path, help="folder of the per-t training tube caches (default artifacts/search/tubes/NAME)")
    parser.add_argument("--t-values", type=comma_ints, default=PAPER_T_VALUES, help="comma list of t (paper: 1,2,3,4)")
    parser.add_argument("--lams", type=comma_floats, default=PAPER_LAMS, help="grid: comma list of lambda (paper: 0.1,0.2,0.5,1.0)")
    parser.add_argument("--sampler", choices=SAMPLERS, default="grid", help="grid: the paper's grid; tpe: TPE, lambda log-uniform in [0.05, 1]")
    parser.add_argument("--trials", type=int, default=16, help="tpe only: trials in the study")
    parser.add_argument("--objective", choices=OBJECTIVES, default="joint", help="joint: eq. (5) on validation (paper; favours small lambda); unweighted: lambda = 1 at validation")
    parser.add_argument("--storage", default=DEFAULT_STORAGE, help=f"Optuna storage URL (default {DEFAULT_STORAGE}; e.g. postgresql://user@host/db for several machines)")
    parser.add_argument("--study-name", help="default ssmtl-NAME")
    parser.add_argument("--heartbeat", type=int, default=0, help="seconds; >0 with several workers on one storage (see module doc)")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="shallow_narrow")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset of arrow,motion,middle,distill")
    parser.add_argument("--epochs", type=int, default=30, help="per trial (paper: 30)")
    parser.add_argument("--batch-size", type=int, default=0, help="objects per batch; 0 = the paper's for the architecture")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frame-stride", type=int, default=1, help="train on the objects of every N-th frame (CPU profile; paper: 1)")
    parser.add_argument("--pruner", choices=PRUNERS, default="median")
    parser.add_argument("--pruner-startup", type=int, default=5, help="MedianPruner: finished trials before pruning")
    parser.add_argument("--pruner-warmup", type=int, default=1, help="MedianPruner: first epochs of a trial that are never pruned")
    parser.add_argument("--experiment", default="ssmtl-search", help="MLflow experiment (default ssmtl-search)")
    parser.add_argument("--out", type=Path, default=Path("metrics/search.json"), help="output JSON, the best t and lambda (default metrics/search.json)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import optuna

    from bench.cli import EXIT_BAD_INPUT, dataset_from
    from bench.datasets import DatasetError
    from bench.tubes import TubeCacheError

    args = build_parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        config = SearchConfig(
            t_values=args.t_values, lams=args.lams, sampler=args.sampler, n_trials=args.trials, objective=args.objective,
            storage=args.storage, study_name=args.study_name, pruner=args.pruner, pruner_startup=args.pruner_startup,
            pruner_warmup=args.pruner_warmup, heartbeat=args.heartbeat, arch=args.arch,
            tasks=tuple(x.strip() for x in args.tasks.split(",") if x.strip()), epochs=args.epochs,
            batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device, frame_stride=args.frame_stride)
        dataset = dataset_from(args)
        tubes_root = args.tubes_root or Path("artifacts/search/tubes") / args.name
        summary = run_search(dataset, args.detections, args.teachers, tubes_root, config, args.out, experiment=args.experiment)
    except (DatasetError, ValueError, FileNotFoundError, TubeCacheError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    best, paper = summary["best"], summary["paper"]
    print(f"best t={best['t']} lambda={best['lam']:g} ({summary['objective']} {best['value']:.4f}, trial {best['trial']}); "
          f"paper t={paper['t']} lambda={paper['lam']:g}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
