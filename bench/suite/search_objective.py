"""The objective of one trial of the search of t and lambda (paper section 4.2).

A trial trains an SSMTL model (:func:`bench.train.train`) with its ``(t, lam)`` on the training
tube cache built with that ``t`` (``<tubes_root>/t<t>``, built once by
:func:`bench.tubes.build_tube_cache` and reused by every trial and rerun) and returns its
validation objective; test labels are never read.

* ``"joint"`` (default, the paper's): the validation joint loss of eq. (5),
  ``L1 + L2 + L3 + lambda * L4``, the lowest over the epochs (the checkpoint training keeps).
  Caveat: this loss shrinks with ``lambda`` *by construction* (``L4 >= 0`` is multiplied by it),
  so comparing it across lambdas favours the smallest lambda of the grid whatever the model
  learns; it is kept as the default because it is what the paper says it tuned on.
* ``"unweighted"`` scores every trial with ``lambda = 1`` at validation (``L1 + L2 + L3 + L4``,
  the lowest over the epochs), a criterion on which lambdas can be compared (lambda still weighs
  L4 during training).

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

from bench.pipeline import load_subsampled
from bench.suite.search_config import SearchConfig
from bench.suite.search_study import suggest


def objective_value(record: dict[str, float], config: SearchConfig) -> float:
    """The validation objective of one epoch's record (see the module doc)."""
    if config.objective == "joint":
        return float(record["val_joint_loss"])
    return float(sum(record[f"val_loss_{task}"] for task in config.tasks))


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
    """The Optuna objective: train with the trial's (t, lam) as a nested MLflow run, report the
    best validation objective after each epoch, prune on the pruner's word."""
    import mlflow
    import optuna

    from bench.train import train

    trainer = trainer or train

    def objective(trial: optuna.Trial) -> float:
        t, lam = suggest(trial, config)
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
