"""MLflow tracking: every training and evaluation is a run in one embedded store.

The store is a SQLite file in the working directory (the checkout's root, where ``ssmtl`` and
``dvc repro`` run), ``mlflow.db``, with artifacts beside it in ``mlruns/``, unless
``MLFLOW_TRACKING_URI`` says otherwise. See the runs with::

    mlflow ui --backend-store-uri sqlite:///mlflow.db

Runs are tagged with the git commit so a number can be traced to the code that made it.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlruns"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{Path.cwd() / STORE_FILE}")


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _experiment(mlflow: Any, name: str) -> str:
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    return mlflow.create_experiment(
        name,
        artifact_location=(Path.cwd() / ARTIFACTS_DIR).as_uri()
        if "MLFLOW_TRACKING_URI" not in os.environ
        else None,
    )


def _mlflow() -> Any:
    import mlflow

    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
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
    ``parent_run_id`` nests it under that run (the MLflow UI shows it as a child)."""
    mlflow = _mlflow()
    nesting = {"mlflow.parentRunId": parent_run_id} if parent_run_id else None
    with mlflow.start_run(
        experiment_id=_experiment(mlflow, experiment), run_name=run_name, tags=nesting
    ):
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.set_tags({"git_commit": git_commit(), **(tags or {})})
        yield mlflow


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
        tags={"git_commit": git_commit(), **tags},
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
        with mlflow.start_run(run_id=run_id):
            mlflow.set_tags({"git_commit": git_commit(), **tags})
            yield mlflow, True
        return
    with run(experiment, run_name, params, {**tags, **match}) as mlflow:
        yield mlflow, False
