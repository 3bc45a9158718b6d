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
