"""The objective of one trial of the search of t and lambda (paper section 4.2).

A trial trains an SSMTL model (:func:`bench.train.train`) with its ``(t, lam)`` on the training
tube cache built with that ``t`` (``<tubes_root>/t<t>``, built once by
:func:`bench.tubes.build_tube_cache` and reused by every trial and rerun) and returns its
validation objective; test labels are never read.

Every trial trains and validates on the same objects: those whose widest window (the largest t
of the grid) fits in the video (:func:`common_objects`). Otherwise a larger t drops more
objects near the ends of a video, and the trials would be compared on different validation
sets.

* ``"normalized"`` (default): the mean over the enabled tasks of each task's validation loss
  divided by its loss at chance (:func:`chance_losses`): ``ln 2`` for the two-class tasks T1
  and T2 (a classifier that says 1/2), and for T3 and T4 the mean absolute error of the best
  constant prediction, the per-pixel (per-dimension) median of the validation targets. 1 means
  every task at chance, 0 perfect; the lowest over the epochs counts. It does not depend on the
  trial's lambda (lambda weighs T4 only during training), and it puts the four tasks on one
  scale: the raw T4 loss (unbounded ImageNet logits) is several times the others and would
  decide any plain sum. The references are computed once on the shared validation objects, so
  every trial is divided by the same numbers.
* ``"joint"`` (the paper's wording): the validation joint loss of eq. (5),
  ``L1 + L2 + L3 + lambda * L4``, the lowest over the epochs. Caveat: it shrinks with ``lambda``
  *by construction* (``L4 >= 0`` is multiplied by it), so comparing it across lambdas favours
  the smallest lambda of the grid whatever the model learns.
* ``"unweighted"``: ``L1 + L2 + L3 + L4`` at validation; lambdas can be compared, but the sum
  is dominated by the T4 loss's magnitude.

Each trial is a nested MLflow run (params ``t``, ``lam`` and the training profile, per-epoch
metrics, tags ``optuna_trial`` and ``optuna_trial_state``) and reports its best objective after
every epoch, so the pruner (:mod:`bench.suite.search_study`) can stop it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import InputError
from bench.pipeline import load_subsampled
from bench.suite.search_config import SearchConfig
from bench.suite.search_study import DUPLICATE_ATTR, DuplicatePoint, duplicate_of, suggest


def objective_value(
    record: dict[str, float], config: SearchConfig, chance: dict[str, float] | None = None
) -> float:
    """The validation objective of one epoch's record (see the module doc); ``chance``: the
    per-task losses at chance of the ``normalized`` objective."""
    if config.objective == "joint":
        return float(record["val_joint_loss"])
    if config.objective == "unweighted":
        return float(sum(record[f"val_loss_{task}"] for task in config.tasks))
    if chance is None:
        raise ValueError("the normalized objective needs the tasks' losses at chance")
    ratios = [record[f"val_loss_{task}"] / chance[task] for task in config.tasks]
    return float(np.mean(ratios))


def common_objects(caches: dict) -> dict[int, np.ndarray]:
    """Per t, the tube indices of the objects every cache holds: the objects whose widest
    window fits in the video (a training cache skips the windows that leave it)."""
    rows = [set(cache.detection_row.tolist()) for cache in caches.values()]
    shared = np.array(sorted(set.intersection(*rows)), dtype=np.int64)
    return {t: np.flatnonzero(np.isin(c.detection_row, shared)) for t, c in caches.items()}


def chance_losses(
    cache: Any, teachers: np.ndarray | None, objects: np.ndarray, config: SearchConfig
) -> dict[str, float]:
    """Each task's validation loss at chance on the validation tubes among ``objects``: ln 2
    for T1/T2, the MAE of the median target for T3 (the middle crop) and T4 (the teacher)."""
    _, val_rows = cache.train_val_split(config.train_config(config.lams[0]).train_fraction)
    val_rows = np.intersect1d(val_rows, objects)
    if len(val_rows) == 0:
        raise InputError(f"{cache.root}: no validation object whose widest window fits")
    chance = {task: math.log(2) for task in ("arrow", "motion") if task in config.tasks}
    if "middle" in config.tasks:
        middle = cache.tubes[val_rows][:, cache.t].astype(np.float32) / 255.0
        chance["middle"] = float(np.abs(middle - np.median(middle, axis=0)).mean())
    if "distill" in config.tasks and teachers is not None:
        targets = teachers[cache.detection_row[val_rows]].astype(np.float64)
        chance["distill"] = float(np.abs(targets - np.median(targets, axis=0)).mean())
    return chance


def load_training_data(
    dataset: Any,
    detections_path: Path,
    teachers_path: Path | None,
    tubes_root: Path,
    config: SearchConfig,
) -> tuple[dict, np.ndarray | None]:
    """The training tube cache of every t (built once, resumable) and the teachers aligned with
    the (frame-stride subsampled) detections."""
    from bench.tubes import build_tube_cache

    teachers_path = teachers_path if "distill" in config.tasks else None
    if teachers_path is not None and not Path(teachers_path).is_file():
        raise FileNotFoundError(f"{teachers_path}: teachers file does not exist")
    detections, teachers = load_subsampled(detections_path, teachers_path, config.frame_stride)
    key = {"detections": detections.meta, "search_frame_stride": config.frame_stride}
    caches = {
        t: build_tube_cache(
            dataset, "train", detections, Path(tubes_root) / f"t{t}", t=t, seed=config.seed, key=key
        )
        for t in config.t_values
    }
    return caches, teachers


def make_objective(
    caches: dict,
    teachers: np.ndarray | None,
    config: SearchConfig,
    study_name: str,
    trainer: Callable | None = None,
) -> Callable:
    """The Optuna objective: train with the trial's (t, lam) on the shared objects as a nested
    MLflow run, report the best validation objective after each epoch, prune on the pruner's
    word unless the trial is the last one of its t or its lambda (:func:`may_prune`)."""
    import mlflow
    import optuna

    from bench.train import train

    trainer = trainer or train
    objects = common_objects(caches)
    widest = max(caches)
    chance = chance_losses(caches[widest], teachers, objects[widest], config)

    def objective(trial: optuna.Trial) -> float:
        t, lam = suggest(trial, config)
        if config.sampler == "grid":
            holder = duplicate_of(trial, (t, lam))
            if holder is not None:  # another worker took the point meanwhile: train nothing
                trial.set_user_attr(DUPLICATE_ATTR, holder)
                raise DuplicatePoint(f"(t={t}, lam={lam}) is trial {holder}'s; not trained")
        train_config = config.train_config(lam)
        parent = mlflow.active_run()
        tags = {
            "optuna_study": study_name,
            "optuna_trial": str(trial.number),
            "optuna_trial_state": "RUNNING",
        }
        experiment_id = parent.info.experiment_id if parent is not None else None
        child = mlflow.start_run(
            run_name=f"{study_name}-trial-{trial.number}",
            nested=True,
            tags=tags,
            experiment_id=experiment_id,
        )
        trial.set_user_attr("mlflow_run_id", child.info.run_id)
        profile = {k: str(v) for k, v in asdict(train_config).items() if k != "lam"}
        mlflow.log_params(
            {
                "t": t,
                "lam": lam,
                "objective": config.objective,
                "frame_stride": config.frame_stride,
                **profile,
            }
        )
        best = math.inf

        def on_epoch(epoch: int, record: dict[str, float]) -> None:
            nonlocal best
            value = objective_value(record, config, chance)
            best = min(best, value)
            mlflow.log_metrics({**record, "objective": value, "objective_best": best}, step=epoch)
            trial.set_user_attr("epochs_run", epoch)
            trial.report(best, epoch)
            if trial.should_prune() and may_prune(trial, t, lam):
                raise optuna.TrialPruned(f"epoch {epoch}: {config.objective} {best:.4f}")

        state, status = "FAIL", "FAILED"
        try:
            trainer(caches[t], teachers, train_config, on_epoch=on_epoch, objects=objects[t])
            state, status = "COMPLETE", "FINISHED"
        except optuna.TrialPruned:
            state, status = "PRUNED", "FINISHED"
            raise
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (bench.errors.Terminated): not a failure
            status = "KILLED"
            raise
        finally:
            mlflow.set_tag("optuna_trial_state", state)
            if math.isfinite(best):
                mlflow.log_metric("value", best)
            mlflow.end_run(status)
        return best

    return objective


def may_prune(trial: Any, t: int, lam: float) -> bool:
    """Whether pruning ``trial`` keeps the grid whole: another trial with the same t and one with
    the same lambda have finished, so no t and no lambda loses its every trial."""
    from optuna.trial import TrialState

    done = [
        p.params
        for p in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if "t" in p.params and "lam" in p.params
    ]
    return any(p["t"] == t for p in done) and any(p["lam"] == lam for p in done)
