"""MLflow tracking: every training and evaluation is a run in one embedded store.

The store is a SQLite file at a fixed path in the checkout, ``mlflow.db`` (artifacts beside it
in ``mlruns/``), unless ``MLFLOW_TRACKING_URI`` says otherwise. See the runs with::

    mlflow ui --backend-store-uri sqlite:///mlflow.db

Runs are tagged with the git commit so a number can be traced to the code that made it.
"""

from __future__ import annotations

import logging
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STORE = REPO / "mlflow.db"
DEFAULT_ARTIFACTS = REPO / "mlruns"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{DEFAULT_STORE}")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _experiment(mlflow: Any, name: str) -> str:
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    return mlflow.create_experiment(name, artifact_location=DEFAULT_ARTIFACTS.as_uri() if "MLFLOW_TRACKING_URI" not in os.environ else None)


@contextmanager
def run(experiment: str, run_name: str, params: dict[str, Any], tags: dict[str, str] | None = None) -> Iterator[Any]:
    """An MLflow run with ``params`` logged and the git commit tagged; yields the mlflow module."""
    import mlflow

    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
    with mlflow.start_run(experiment_id=_experiment(mlflow, experiment), run_name=run_name):
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.set_tags({"git_commit": git_commit(), **(tags or {})})
        yield mlflow
