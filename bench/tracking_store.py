"""The MLflow store: where it and its artifacts live (``tracking:`` in params.yaml, resolved
once), and the status a run ends with (:func:`ended`: never left ``RUNNING``).

``params.yaml`` (the checkout's root) names them relative to the folder that holds it::

    tracking:
      uri: sqlite:///mlflow.db   # any MLflow tracking URI; a relative SQLite file or a bare path
      artifacts: mlruns          # a folder (relative: to params.yaml's folder) or a URI (s3://...)

The defaults are ``mlflow.db`` and ``mlruns/`` in the checkout's root, where the runs have always
been. Relative paths are resolved to absolute ones once, when the section is first read, so a
later change of working directory cannot split one store in two. ``MLFLOW_TRACKING_URI``, when
set, overrides the store (tests and CI point it at a temporary one); the artifacts then lie
beside its SQLite file, as they always did.

The section is read by ``ssmtl`` itself rather than passed on each stage's command line: it
changes where runs are recorded, not what a stage computes, so moving the store must not make
``dvc repro`` retrain (a new ``cmd`` or param would invalidate every training stage's lock).
The params.yaml found is the nearest one, from the working directory upwards, that has a
``tracking`` section (``experiments/ped2/params.yaml`` has none: its stages run at the root).

``SSMTL_TRACKING=off`` records nothing (:func:`mlflow_module` hands out a stand-in that does
nothing): for a machine without MLflow, such as a lent GPU whose results come back as files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bench.errors import InputError

PARAMS_FILE = "params.yaml"
STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlruns"
SQLITE = "sqlite:///"
TRACKING_ENV = "SSMTL_TRACKING"


def tracking_enabled() -> bool:
    """False when ``SSMTL_TRACKING`` is ``off`` (or ``0``, ``false``)."""
    return os.environ.get(TRACKING_ENV, "on").strip().lower() not in ("off", "0", "false")


class Untracked:
    """MLflow's stand-in with tracking off: any attribute or call is a no-op that returns the
    stand-in again; it iterates as empty and tests false (no run is found)."""

    def __getattr__(self, name: str) -> Untracked:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Untracked:
        return self

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __bool__(self) -> bool:
        return False


def mlflow_module() -> Any:
    """The ``mlflow`` module, or :class:`Untracked` when tracking is off."""
    if not tracking_enabled():
        return Untracked()
    import mlflow

    return mlflow


@dataclass(frozen=True)
class Location:
    """An MLflow store (``uri``) and where new experiments put artifacts (``artifacts``: a URI,
    or None for MLflow's own default), both absolute; ``source`` is the params.yaml read."""

    uri: str
    artifacts: str | None
    source: Path | None = None
    from_environment: bool = False


def _absolute_uri(uri: str, base: Path) -> str:
    """``uri`` with a relative SQLite file (or a bare path, taken as one) made absolute."""
    if "://" not in uri:
        uri = SQLITE + uri
    if uri.startswith(SQLITE):
        path = Path(uri.removeprefix(SQLITE))
        return SQLITE + str(path if path.is_absolute() else (base / path).resolve())
    return uri


def beside(uri: str) -> str | None:
    """``mlruns/`` beside the SQLite file of ``uri`` (store and artifacts move together); None
    (MLflow's default) for a store that is not a SQLite file."""
    if not uri.startswith(SQLITE):
        return None
    return (Path(uri.removeprefix(SQLITE)).resolve().parent / ARTIFACTS_DIR).as_uri()


def _find_params(start: Path) -> tuple[Path, dict] | None:
    """The nearest params.yaml at or above ``start`` with a ``tracking`` mapping, and that
    mapping."""
    import yaml

    for folder in (start, *start.parents):
        path = folder / PARAMS_FILE
        if not path.is_file():
            continue
        try:
            params = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise InputError(
                f"unreadable ({error})", path, "fix the YAML (see the tracking section)"
            ) from error
        section = params.get("tracking") if isinstance(params, dict) else None
        if section is None:
            continue
        if not isinstance(section, dict):
            raise InputError(
                f"tracking is {section!r}, not a mapping",
                path,
                "write tracking: {uri: sqlite:///mlflow.db, artifacts: mlruns}",
            )
        return path, section
    return None


@lru_cache(maxsize=8)
def configured(cwd: Path) -> Location:
    """The store and artifacts for a process working in ``cwd``: params.yaml's ``tracking``
    section, resolved once (cached per working directory), else ``mlflow.db`` and ``mlruns/``
    in ``cwd`` (today's place)."""
    found = _find_params(cwd)
    if found is None:
        uri = _absolute_uri(STORE_FILE, cwd)
        return Location(uri, beside(uri))
    path, section = found
    base = path.parent.resolve()
    for key in ("uri", "artifacts"):
        value = section.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InputError(
                f"tracking.{key} is {value!r}, not a path or URI",
                path,
                f"give tracking.{key} as text, e.g. {'mlflow.db' if key == 'uri' else 'mlruns'}",
            )
    uri = _absolute_uri(section.get("uri") or STORE_FILE, base)
    artifacts = section.get("artifacts")
    if artifacts is None:
        root = beside(uri)
    elif "://" in artifacts:
        root = artifacts
    else:
        root = (base / artifacts).resolve().as_uri()
    return Location(uri, root, path)


# URIs this process gave ``mlflow.set_tracking_uri``, which copies them to
# ``MLFLOW_TRACKING_URI`` (for child processes): that copy is not the user's override.
_SET_HERE: set[str] = set()


def set_by_this_process(found: Location) -> str:
    """``found.uri``, noted as going to ``mlflow.set_tracking_uri`` (and so into the
    environment) unless it came from the environment in the first place."""
    if not found.from_environment:
        _SET_HERE.add(found.uri)
    return found.uri


def location() -> Location:
    """The store in use: ``MLFLOW_TRACKING_URI`` when the user set it (artifacts beside its
    SQLite file), else :func:`configured` for the working directory."""
    override = os.environ.get("MLFLOW_TRACKING_URI")
    if override and override not in _SET_HERE:
        return Location(override, beside(override), from_environment=True)
    return configured(Path.cwd().resolve())


def run_status(error: BaseException | None) -> str:
    """The MLflow status a run ends with: ``FINISHED`` without an error, ``KILLED`` when it was
    interrupted (``KeyboardInterrupt``, :class:`Terminated`), ``FAILED`` otherwise."""
    if error is None:
        return "FINISHED"
    return "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"


@contextmanager
def ended(mlflow: Any) -> Iterator[None]:
    """End the active run with :func:`run_status` of whatever leaves the block. On an error,
    the status is set through a fresh client when ``end_run`` fails (an interrupt that landed
    inside a store call), and a store that cannot be written to at all is only warned about:
    the error itself is what counts."""
    active = mlflow.active_run()
    try:
        yield
    except BaseException as error:
        status = run_status(error)
        try:
            mlflow.end_run(status)
        except Exception as ending:  # noqa: BLE001 - the original error must propagate
            try:
                if active is not None:
                    mlflow.MlflowClient().set_terminated(active.info.run_id, status)
            except Exception:  # noqa: BLE001
                logging.getLogger(__name__).warning("could not end the MLflow run: %s", ending)
        raise
    mlflow.end_run(run_status(None))


__all__ = [
    "ARTIFACTS_DIR",
    "STORE_FILE",
    "Location",
    "beside",
    "configured",
    "ended",
    "location",
    "run_status",
    "set_by_this_process",
]
