"""MLflow tracking: every training and evaluation is a run in one embedded store.

The store and its artifacts are where params.yaml's ``tracking`` section says (default:
``mlflow.db`` and ``mlruns/`` in the checkout's root, where ``ssmtl`` and ``dvc repro`` run;
:mod:`bench.tracking_store`), unless ``MLFLOW_TRACKING_URI`` says otherwise. See the runs with::

    mlflow ui --backend-store-uri sqlite:///mlflow.db

Runs carry MLflow's standard tags (``mlflow.source.git.commit``, ``mlflow.runName``,
``mlflow.parentRunId`` for nested runs), so the UI shows the commit, names and the run tree.
Params are flat and readable (task subsets as ``T1+T2+T3+T4``, nested settings as ``a.b``).
Training runs log per-epoch metrics at their epoch as the step (:func:`log_epoch`, no summary
point at step 0), the selected checkpoint's metrics under ``best_*`` keys (:func:`log_best`)
and the model with a signature and an input example (:func:`log_model`, loadable with
``mlflow.pytorch.load_model``); an evaluation run names the training run it scores
(:func:`link_to_training`).

A run ends ``FINISHED``, ``KILLED`` when interrupted (Ctrl-C, or SIGTERM: while a run is open a
SIGTERM raises :class:`Terminated`, a ``KeyboardInterrupt``) or ``FAILED`` on an exception
(:func:`~bench.tracking_store.run_status`), never left ``RUNNING`` by a stopped process.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.errors import terminate_as_interrupt
from bench.tracking_store import (
    beside,
    ended,
    location,
    mlflow_module,
    set_by_this_process,
)

GIT_COMMIT_TAG = "mlflow.source.git.commit"
TRAINING_RUN_TAG = "ssmtl.training_run_id"
MODEL_HASH_TAG = "ssmtl.model_sha256"
# The proxy tasks' ids of the paper (bench.paper.TASK_IDS; this layer imports nothing of bench).
TASK_IDS = {"arrow": "T1", "motion": "T2", "middle": "T3", "distill": "T4"}


def tracking_uri() -> str:
    """The MLflow store: ``MLFLOW_TRACKING_URI`` when set, else params.yaml's ``tracking.uri``
    (:mod:`bench.tracking_store`), else ``mlflow.db`` in the working directory."""
    return location().uri


def git_commit(where: Path | None = None) -> str:
    """The commit checked out at ``where`` (default: the working directory), ``unknown`` outside
    a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=where
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def git_dirty(where: Path | None = None) -> bool:
    """Whether tracked files at ``where`` differ from the commit (False outside git)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=where,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    return bool(out.strip())


def package_version() -> str:
    """The installed version of ssmtl-bench (``pyproject.toml``), ``unknown`` if not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ssmtl-bench")
    except PackageNotFoundError:
        return "unknown"


def version_line() -> str:
    """``ssmtl 0.1.0 (git 94834f2)``: the package version and the commit checked out in the
    working directory (the checkout ``ssmtl`` and ``dvc repro`` run in; ``+dirty`` with local
    changes to tracked files), ``git commit unknown`` outside a checkout."""
    commit = git_commit()
    if commit == "unknown":
        return f"ssmtl {package_version()} (git commit unknown)"
    return f"ssmtl {package_version()} (git {commit[:7]}{'+dirty' if git_dirty() else ''})"


def artifact_root(uri: str | None = None) -> str | None:
    """Where a new experiment keeps its artifacts: params.yaml's ``tracking.artifacts`` for the
    configured store, else ``mlruns/`` beside the SQLite file of ``uri`` (store and artifacts
    move together); None (MLflow's default) for a store that is not a SQLite file."""
    if uri is None:
        return location().artifacts
    return beside(uri)


def _experiment(mlflow: Any, name: str) -> str:
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    return mlflow.create_experiment(name, artifact_location=artifact_root())


def task_label(tasks: Any) -> str:
    """``T1+T2+T3+T4`` from task names or ids (a list, a tuple or a comma-separated string)."""
    items = tasks.split(",") if isinstance(tasks, str) else list(tasks)
    return "+".join(TASK_IDS.get(str(t).strip(), str(t).strip()) for t in items)


def flat_params(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``params`` as MLflow params a person can read and filter on: nested mappings flattened
    with dots (``profile.epochs``), task lists as ``T1+T3``, other lists comma-separated, None as
    ``none``, paths as POSIX text."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_params(value, f"{name}."))
        elif key == "tasks" and isinstance(value, (list, tuple, str)):
            flat[name] = task_label(value)
        elif isinstance(value, (list, tuple)):
            flat[name] = ",".join(str(v) for v in value)
        elif value is None:
            flat[name] = "none"
        elif isinstance(value, Path):
            flat[name] = value.as_posix()
        else:
            flat[name] = str(value)
    return flat


def _mlflow() -> Any:
    mlflow = mlflow_module()

    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(set_by_this_process(location()))
    return mlflow


@contextmanager
def run(
    experiment: str,
    run_name: str,
    params: dict[str, Any],
    tags: dict[str, str] | None = None,
    parent_run_id: str | None = None,
) -> Iterator[Any]:
    """An MLflow run with ``params`` logged and the git commit tagged; yields the mlflow module.
    ``parent_run_id`` nests it under that run (the MLflow UI shows it as a child). The run ends
    ``FINISHED``, ``KILLED`` (Ctrl-C, SIGTERM) or ``FAILED`` (an exception; ``run_status``)."""
    mlflow = _mlflow()
    nesting = {"mlflow.parentRunId": parent_run_id} if parent_run_id else None
    with terminate_as_interrupt():
        mlflow.start_run(
            experiment_id=_experiment(mlflow, experiment), run_name=run_name, tags=nesting
        )
        with ended(mlflow):
            mlflow.log_params(flat_params(params))
            mlflow.set_tags({**standard_tags(), **(tags or {})})
            yield mlflow


def standard_tags() -> dict[str, str]:
    """The git commit under MLflow's own key (the UI shows and links it) and, for queries
    written against older runs, ``git_commit``."""
    commit = git_commit()
    return {GIT_COMMIT_TAG: commit, "git_commit": commit}


def parent_run(experiment: str, run_name: str, tags: dict[str, str]) -> str:
    """The id of the run of ``experiment`` carrying all of ``tags``, created (finished, no metrics)
    when there is none: the parent of the runs of one sweep or study, found again by every
    process of that sweep and on resume."""
    found = find_run(experiment, tags)
    if found is not None:
        return found
    mlflow = _mlflow()
    client = mlflow.MlflowClient()
    created = client.create_run(
        _experiment(mlflow, experiment),
        run_name=run_name,
        tags={**standard_tags(), "mlflow.runName": run_name, **tags},
    )
    client.set_terminated(created.info.run_id)
    return created.info.run_id


def _filter(tags: dict[str, str]) -> str:
    for value in tags.values():
        if "'" in str(value):
            raise ValueError(f"an MLflow tag value to search by cannot hold a quote: {value!r}")
    return " and ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items())


def find_run(experiment: str, tags: dict[str, str]) -> str | None:
    """The id of the earliest run of ``experiment`` carrying every tag of ``tags``, else
    ``None``."""
    mlflow = _mlflow()
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is None:
        return None
    runs = mlflow.MlflowClient().search_runs(
        [existing.experiment_id],
        _filter(tags),
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


@contextmanager
def resumable_run(
    experiment: str,
    run_name: str,
    params: dict[str, Any],
    tags: dict[str, str],
    match: dict[str, str],
) -> Iterator[tuple[Any, bool]]:
    """Like :func:`run`, but a run already tagged with every tag of ``match`` (a killed or an
    earlier process's) is resumed instead of starting a second one. ``match`` is set as tags of a
    new run. Yields ``(mlflow, resumed)``; params are logged only on a new run (MLflow refuses to
    change a logged param)."""
    mlflow = _mlflow()
    run_id = find_run(experiment, match)
    if run_id is not None:
        with terminate_as_interrupt():
            mlflow.start_run(run_id=run_id)
            with ended(mlflow):
                mlflow.set_tags({**standard_tags(), **tags})
                yield mlflow, True
        return
    with run(experiment, run_name, params, {**tags, **match}) as mlflow:
        yield mlflow, False


# --- training and evaluation runs --------------------------------------------------------------


def epoch_metrics(record: dict[str, Any]) -> dict[str, float]:
    """A per-epoch record's metrics: numbers only, without ``epoch`` itself (it is the step)."""
    return {
        k: float(v)
        for k, v in record.items()
        if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def log_epoch(record: dict[str, Any], step: int) -> None:
    """Log one epoch's metrics of the active run at ``step`` (the epoch, from 1): the curves in
    the UI then start at the first epoch, with no summary point at step 0."""
    mlflow = _mlflow()

    mlflow.log_metrics(epoch_metrics(record), step=step)


def best_metrics(summary: dict[str, Any], prefix: str = "best_") -> dict[str, float]:
    """The selected checkpoint's metrics under their own keys: ``val_joint_loss`` ->
    ``best_val_joint_loss``; ``best_epoch`` keeps its name. Numbers only (a nested ``config`` or
    a text is left out: params and tags hold those)."""
    found = {}
    for key, value in summary.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        found[key if key.startswith(prefix) else f"{prefix}{key}"] = float(value)
    return found


def log_best(summary: dict[str, Any]) -> None:
    """Log :func:`best_metrics` of ``summary`` to the active run (once, no step): the runs table
    and the compare view show the chosen epoch, not the last one."""
    mlflow = _mlflow()

    mlflow.log_metrics(best_metrics(summary))


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file (a model checkpoint), read in chunks."""
    import hashlib

    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tag_model_file(path: Path) -> None:
    """Tag the active (training) run with the hash of the checkpoint it wrote, so an evaluation
    of that checkpoint's scores finds it (:func:`training_run_of`)."""
    mlflow = _mlflow()

    mlflow.set_tag(MODEL_HASH_TAG, file_sha256(path))


def training_run_of(model_path: Path, experiment: str | None = None) -> str | None:
    """The latest run (of ``experiment``, default: any) tagged with ``model_path``'s hash."""
    mlflow = _mlflow()
    query = f"tags.`{MODEL_HASH_TAG}` = '{file_sha256(model_path)}'"
    if experiment is not None:
        found = mlflow.get_experiment_by_name(experiment)
        ids = [found.experiment_id] if found is not None else []
    else:
        ids = [e.experiment_id for e in mlflow.MlflowClient().search_experiments()]
    if not ids:
        return None
    runs = mlflow.MlflowClient().search_runs(
        ids, query, order_by=["attributes.start_time DESC"], max_results=1
    )
    return runs[0].info.run_id if runs else None


def link_to_training(training_run_id: str | None) -> None:
    """Tag the active (evaluation) run with the training run it scores; in the UI, filter with
    ``tags.`ssmtl.training_run_id` = '<id>'``. The training run gets the evaluation's id in
    turn (``ssmtl.evaluation_run_id.<experiment>``). Nothing when the id is None."""
    if training_run_id is None:
        return
    mlflow = _mlflow()

    active = mlflow.active_run()
    mlflow.set_tag(TRAINING_RUN_TAG, training_run_id)
    if active is not None:
        name = mlflow.get_experiment(active.info.experiment_id).name
        key = f"ssmtl.evaluation_run_id.{name}"
        mlflow.MlflowClient().set_tag(training_run_id, key, active.info.run_id)


def log_run_artifact(run_id: str, path: Path, artifact_path: str | None = None) -> None:
    """Attach a file to a run that is not active (a sweep's parent: its summary table)."""
    _mlflow().MlflowClient().log_artifact(run_id, str(path), artifact_path)


def child_runs(parent_id: str) -> list[Any]:
    """The finished runs nested under ``parent_id`` (any experiment)."""
    mlflow = _mlflow()
    client = mlflow.MlflowClient()
    parent = client.get_run(parent_id)
    return client.search_runs(
        [parent.info.experiment_id],
        f"tags.`mlflow.parentRunId` = '{parent_id}' and attributes.status = 'FINISHED'",
        max_results=5000,
    )
