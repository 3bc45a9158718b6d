"""Hyperparameter search of t and lambda (paper section 4.2): one Optuna study per dataset.

The paper tunes the temporal size ``t`` (frames ``i-t .. i+t``) over ``{1, 2, 3, 4}`` and the
distillation weight ``lambda`` of eq. (5) over ``{0.1, 0.2, 0.5, 1.0}`` on the validation joint
loss, and reports ``t = 3`` with ``lambda = 0.5`` on Ped2 and ``0.2`` on Avenue/ShanghaiTech
(:mod:`bench.paper`). :func:`run_search` reproduces that procedure; its parts:

* :mod:`bench.suite.search_config`: :class:`SearchConfig`, every knob, the paper's by default.
* :mod:`bench.suite.search_objective`: one trial trains with its ``(t, lam)`` on the training
  tube cache of that ``t``, on the objects every t keeps (the same validation objects for every
  trial), and returns its validation objective; test labels are never read. ``"normalized"``
  (default) averages each task's loss divided by its loss at chance: it does not depend on
  lambda and weighs the tasks alike. ``"joint"`` is eq. (5) on validation, the paper's words;
  it shrinks with lambda *by construction*, so it favours the grid's smallest lambda whatever
  the model learns. ``"unweighted"`` (lambda = 1 at validation) is dominated by the T4 loss.
* :mod:`bench.suite.search_study`: the grid sampler (16 trials) or TPE (``n_trials``, lambda
  log-uniform in ``[0.05, 1.0]``, not in the paper), the median pruner (which never prunes the
  last unfinished trial of a t or of a lambda, so the grid stays whole), the RDB storage, resuming
  after a kill (a trial left ``RUNNING`` is failed and its point queued again), several workers
  on one server database with ``heartbeat``.

**Tracking.** One MLflow parent run per study (experiment ``ssmtl-search``, tagged
``optuna_study`` and ``optuna_storage``; a resumed study resumes the same run), one nested child
run per trial. Child runs of killed trials are closed as ``KILLED`` with state ``FAIL`` when the
study resumes.

**Output.** A JSON file (atomic write; the DVC-tracked output later stages read with
:func:`read_best`): the best ``t``/``lam``, the paper's values, every trial, the profile.

Defaults: the paper's grid, objective and training (30 epochs, the architecture's paper batch
size); TPE gets the grid's budget (16 trials); the pruner waits for Optuna's default 5 finished
trials and never prunes a trial's first epoch (pruning is ours, the paper trains every point). On
a CPU, shrink a trial with ``epochs`` and ``frame_stride`` (recorded in the output's profile).
The command line is ``ssmtl search`` (:mod:`bench.cli.suite`); interrupt it at any point and run
the same command again to resume.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.io import write_json
from bench.paper import LAMBDA, T
from bench.suite.search_config import SearchConfig
from bench.suite.search_objective import load_training_data, make_objective
from bench.suite.search_study import (
    DuplicatePoint,
    fail_stale_trials,
    is_duplicate,
    normalize_storage,
    open_study,
    pending,
    point_of,
    public_storage,
    running_elsewhere,
)

__all__ = ["SearchConfig", "read_best", "run_search", "summarize"]

# ped1 and the synthetic scenes follow Ped2, whose lambda the paper gives
DEFAULT_PAPER_LAMBDA = LAMBDA["ped2"]


def paper_best(dataset_name: str) -> tuple[int, float]:
    """The paper's ``(t, lambda)`` for a dataset (section 4.2)."""
    return T, LAMBDA.get(dataset_name, DEFAULT_PAPER_LAMBDA)


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One row per trial that ran (queued ones left out): number, point, state, value, epochs."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name == "WAITING":
            continue
        point = point_of(trial)
        rows.append(
            {
                "number": trial.number,
                "t": point[0] if point else None,
                "lam": point[1] if point else None,
                # a trial that found its point held by another worker and trained nothing
                "state": "DUPLICATE" if is_duplicate(trial) else trial.state.name,
                "value": trial.value,
                "epochs_run": int(trial.user_attrs.get("epochs_run", 0)),
            }
        )
    return rows


def summarize(
    study: Any, dataset_name: str, config: SearchConfig, storage_url: str
) -> dict[str, Any]:
    """The output JSON's content; ``best`` is the COMPLETE trial with the lowest value."""
    rows = trial_rows(study)
    complete = [row for row in rows if row["state"] == "COMPLETE" and row["value"] is not None]
    if not complete:
        raise InputError(
            f"study {study.study_name!r}: no completed trial (every trial was pruned or failed)"
        )
    best = min(complete, key=lambda row: (row["value"], row["number"]))
    paper_t, paper_lam = paper_best(dataset_name)
    return {
        "dataset": dataset_name,
        "objective": config.objective,
        "sampler": config.sampler,
        "storage": public_storage(storage_url),
        "study_name": study.study_name,
        "best": {
            "t": best["t"],
            "lam": best["lam"],
            "value": best["value"],
            "trial": best["number"],
        },
        "paper": {"t": paper_t, "lam": paper_lam},
        "trials": rows,
        "profile": config.profile(),
    }


def read_best(path: str | Path) -> tuple[int, float]:
    """``(t, lam)`` of a search output; ValueError naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: search output does not exist (run ssmtl search)")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not a search output, unreadable JSON ({error})") from error
    best = data.get("best") if isinstance(data, dict) else None
    if not isinstance(best, dict):
        raise InputError(f"{path}: not a search output, missing key 'best'")
    for key in ("t", "lam"):
        if best.get(key) is None:
            raise InputError(f"{path}: not a search output, missing key 'best.{key}'")
    try:
        return int(best["t"]), float(best["lam"])
    except (TypeError, ValueError) as error:
        raise InputError(f"{path}: best t/lam are not numbers ({error})") from error


def close_stale_child_runs(parent_run_id: str, study: Any) -> None:
    """Child runs left RUNNING by a killed process: closed as KILLED, tagged with the trial's
    state."""
    from mlflow import MlflowClient

    client = MlflowClient()
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    states = {t.number: t.state.name for t in study.get_trials(deepcopy=False)}
    query = f"tags.`mlflow.parentRunId` = '{parent_run_id}' and attributes.status = 'RUNNING'"
    for run in client.search_runs([experiment_id], query):
        number = int(run.data.tags.get("optuna_trial", -1))
        if states.get(number, "FAIL") != "RUNNING":
            client.set_tag(run.info.run_id, "optuna_trial_state", states.get(number, "FAIL"))
            client.set_terminated(run.info.run_id, status="KILLED")


def _mlflow_params(
    dataset: Any, config: SearchConfig, study_name: str, public: str
) -> dict[str, Any]:
    """The parent run's params: the study's identity (lists comma-joined) and its pruner."""
    identity = {
        k: (",".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
        for k, v in config.identity().items()
    }
    return {
        "dataset": dataset.name,
        "study_name": study_name,
        "storage": public,
        "pruner": config.pruner,
        "pruner_startup": config.pruner_startup,
        "pruner_warmup": config.pruner_warmup,
        **identity,
    }


def run_search(
    dataset: Any,
    detections_path: Path,
    teachers_path: Path | None,
    tubes_root: Path,
    config: SearchConfig,
    out_json: Path,
    experiment: str = "ssmtl-search",
    trainer: Callable | None = None,
) -> dict:
    """Run (or resume) the study of ``dataset`` and write ``out_json``; returns its content.
    ``trainer`` replaces :func:`bench.train.train` (tests)."""
    from bench import tracking
    from bench.progress import progress_bar

    if "distill" in config.tasks and teachers_path is None:
        raise InputError(
            "task 'distill' needs teacher targets: give --teachers (ssmtl teachers --split train)"
        )
    study_name = config.name_for(dataset.name)
    storage_url = normalize_storage(config.storage)
    public = public_storage(storage_url)
    study = open_study(config, study_name, storage_url)
    failed = fail_stale_trials(study, config)
    caches, teachers = load_training_data(
        dataset, Path(detections_path), teachers_path, Path(tubes_root), config
    )

    params = _mlflow_params(dataset, config, study_name, public)
    tags = {
        "dataset": dataset.name,
        "sampler": config.sampler,
        "objective": config.objective,
        "optuna_role": "study",
    }
    match = {"optuna_study": study_name, "optuna_storage": public}
    with tracking.resumable_run(experiment, study_name, params, tags, match) as (mlflow, resumed):
        parent_id = mlflow.active_run().info.run_id
        if resumed:
            close_stale_child_runs(parent_id, study)
        objective = make_objective(caches, teachers, config, study_name, trainer)
        total = pending(study, config)
        with progress_bar(total=total, desc=f"search {study_name}", unit="trial") as bar:
            if failed:
                bar.write(
                    f"resumed: trial(s) {failed} were left running by a killed process; "
                    "marked FAIL, queued again"
                )

            def after(study: Any, trial: Any) -> None:
                if is_duplicate(trial):
                    bar.write(f"trial {trial.number}: its point is another worker's, skipped")
                    return
                bar.update(1)
                value = "-" if trial.value is None else f"{trial.value:.4f}"
                bar.write(
                    f"trial {trial.number}: t={trial.params.get('t')} "
                    f"lam={trial.params.get('lam')} {trial.state.name} {value}"
                )
                if trial.value is not None:
                    mlflow.log_metric("trial_value", trial.value, step=trial.number)

            def finished() -> int:
                return sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))

            while True:
                todo = pending(study, config)
                if todo == 0:
                    # other workers' trials: wait, and take one up if its heartbeat stops
                    if not running_elsewhere(study, config):
                        break
                    time.sleep(config.heartbeat)
                    fail_stale_trials(study, config)
                    continue
                before = finished()
                # the GridSampler may stop a round early (it counts a failed point as visited)
                study.optimize(objective, n_trials=todo, callbacks=[after], catch=(DuplicatePoint,))
                if finished() == before:
                    break
        summary = summarize(study, dataset.name, config, config.storage)
        write_json(Path(out_json), summary)
        best = summary["best"]
        mlflow.log_metrics(
            {"best_value": best["value"], "best_t": best["t"], "best_lam": best["lam"]}
        )
        mlflow.set_tag("best_trial", str(best["trial"]))
        mlflow.log_artifact(str(out_json))
    return summary
