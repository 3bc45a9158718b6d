"""MLflow runs are never left ``RUNNING``: an interrupted run ends ``KILLED`` (Ctrl-C, SIGTERM),
a failed one ``FAILED``; the store and its artifacts are where params.yaml's ``tracking`` says
(docs/reliability.md, docs/tools.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import tracking
from bench.errors import EXIT_TERMINATED, InputError, Terminated, terminate_as_interrupt
from bench.tracking_store import configured, location, run_status

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite store (``MLFLOW_TRACKING_URI``) and a working directory elsewhere."""
    pytest.importorskip("mlflow")
    database = tmp_path / "store" / "mlflow.db"
    database.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    monkeypatch.chdir(tmp_path)
    return database


def statuses(database: Path) -> dict[str, str]:
    """Run name -> status of every run in the store, read with MlflowClient."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{database}")
    ids = [e.experiment_id for e in client.search_experiments()]
    return {r.info.run_name: r.info.status for r in client.search_runs(ids)}


# --- run status -------------------------------------------------------------------------------


def test_run_status_names_each_ending():
    assert run_status(None) == "FINISHED"
    assert run_status(KeyboardInterrupt()) == "KILLED"
    assert run_status(Terminated()) == "KILLED"
    assert run_status(RuntimeError()) == "FAILED"


@pytest.mark.slow  # MLflow's SQLite store
def test_interrupted_run_ends_killed_and_failing_one_failed(store: Path):
    with pytest.raises(KeyboardInterrupt), tracking.run("exp", "interrupted", {"a": 1}):
        raise KeyboardInterrupt
    with pytest.raises(RuntimeError, match="boom"), tracking.run("exp", "failing", {"a": 1}):
        raise RuntimeError("boom")
    with tracking.run("exp", "finished", {"a": 1}):
        pass
    assert statuses(store) == {"interrupted": "KILLED", "failing": "FAILED", "finished": "FINISHED"}


@pytest.mark.slow  # MLflow's SQLite store
def test_sigterm_during_a_run_ends_it_killed_and_restores_the_handler(store: Path):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), tracking.run("exp", "terminated", {}):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises at once; never reached
    assert statuses(store) == {"terminated": "KILLED"}
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.slow  # MLflow's SQLite store
def test_resumed_run_interrupted_again_ends_killed(store: Path):
    match = {"study": "s1"}
    with pytest.raises(KeyboardInterrupt), tracking.resumable_run("exp", "study", {}, {}, match):
        raise KeyboardInterrupt
    resumed = tracking.resumable_run("exp", "study", {}, {}, match)
    with pytest.raises(KeyboardInterrupt), resumed as (_, was_resumed):
        assert was_resumed
        raise KeyboardInterrupt
    assert statuses(store) == {"study": "KILLED"}


def test_terminate_as_interrupt_raises_a_keyboard_interrupt():
    with pytest.raises(KeyboardInterrupt), terminate_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)


def test_a_sigterm_swallowed_by_a_finaliser_is_delivered_again():
    """A signal handled inside ``__del__`` (or a weakref callback, as the garbage collector
    runs them in the middle of torch's backward) raises where Python ignores exceptions."""

    class SignalledOnDeletion:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(10))  # the handler runs in here: its Terminated is printed and dropped

    with pytest.raises(Terminated), terminate_as_interrupt():
        SignalledOnDeletion()
        for _ in range(500):  # 5 s, in Python code the re-delivered signal can land in
            time.sleep(0.01)


@pytest.mark.slow  # a tiny synthetic training run in a child process (~15 s)
def test_sigterm_to_a_cli_training_run_ends_it_killed(tmp_path: Path):
    """``kill PID`` of ``ssmtl train``: exit 143, the run ``KILLED``, no model written."""
    from bench.cli import main
    from bench.data import open_dataset
    from bench.pipeline import make_detector, run_detect, run_tubes

    root = tmp_path / "synthetic"
    assert main(["data", "synth", "--out", str(root), "--preset", "tiny", "--seed", "3"]) == 0
    dataset = open_dataset("synthetic", root)
    detector = make_detector("precomputed", "", 0.0, 640, str(root / "detections/boxes_train.npz"),
                             "cpu")  # fmt: skip
    run_detect(dataset, "train", detector, tmp_path / "det.npz", frame_stride=4)
    run_tubes(dataset, "train", tmp_path / "det.npz", tmp_path / "tubes", 1, 0)
    database = tmp_path / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{database}", "PYTHONPATH": str(REPO)}
    argv = ["train", "--dataset", "synthetic", "--tubes", str(tmp_path / "tubes"),
            "--tasks", "middle", "--epochs", "10000", "--device", "cpu",
            "--out", str(tmp_path / "m.pt"), "--metrics", str(tmp_path / "m.json")]  # fmt: skip
    code = f"import sys; from bench.cli import main; sys.exit(main({argv!r}))"
    log = (tmp_path / "stderr.txt").open("w")  # a file: a full pipe would block the child
    child = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path, stderr=log)
    try:
        deadline = time.monotonic() + 240  # 2 loaded cores: imports take long
        while time.monotonic() < deadline and child.poll() is None:
            if database.exists() and "RUNNING" in _statuses_or_empty(database).values():
                break
            time.sleep(0.5)
        assert child.poll() is None, (tmp_path / "stderr.txt").read_text()
        time.sleep(1)  # into the epochs
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=120)
        except subprocess.TimeoutExpired:
            log_text = (tmp_path / "stderr.txt").read_text()
            pytest.fail(f"still running 120 s after SIGTERM:\n{log_text}")
    finally:
        if child.poll() is None:
            child.kill()
        log.close()
    err = (tmp_path / "stderr.txt").read_text()
    assert child.returncode == EXIT_TERMINATED, err
    assert "interrupted" in err
    assert list(statuses(database).values()) == ["KILLED"]
    assert not (tmp_path / "m.pt").exists()


def _statuses_or_empty(database: Path) -> dict[str, str]:
    """The runs' statuses read with sqlite3, read-only: an MlflowClient would create or migrate
    the tables while the child does (``table _alembic_tmp_metrics already exists``)."""
    import sqlite3

    try:
        with sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True) as connection:
            return dict(connection.execute("SELECT name, status FROM runs").fetchall())
    except sqlite3.Error:  # the child is still creating the tables
        return {}


# --- where the store is ---------------------------------------------------------------------------


def test_the_repository_default_is_where_runs_always_were(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    found = configured(REPO)
    assert found.uri == f"sqlite:///{REPO / 'mlflow.db'}"
    assert found.artifacts == (REPO / "mlruns").as_uri()
    assert found.source == REPO / "params.yaml"


def test_params_tracking_is_resolved_once_relative_to_its_file(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "params.yaml").write_text(
        "tracking:\n  uri: runs/store.db\n  artifacts: runs/art\n"
    )
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "params.yaml").write_text("threads: 2\n")  # no tracking: looked past
    monkeypatch.chdir(tmp_path / "sub" / "deeper")
    found = location()
    assert found.uri == f"sqlite:///{tmp_path.resolve() / 'runs/store.db'}"
    assert found.artifacts == (tmp_path.resolve() / "runs/art").as_uri()
    assert tracking.tracking_uri() == found.uri and tracking.artifact_root() == found.artifacts


def test_environment_overrides_params(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text("tracking:\n  uri: sqlite:///a.db\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'env' / 'b.db'}")
    assert location().uri.endswith("env/b.db")
    assert location().artifacts == (tmp_path / "env" / "mlruns").as_uri()


def test_no_params_keeps_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert location().uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"


@pytest.mark.parametrize("text", ["tracking: [a]\n", "tracking:\n  uri: 3\n", "tracking: {a: [\n"])
def test_malformed_tracking_section_is_a_named_error(tmp_path, monkeypatch, text):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "params.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="params.yaml"):
        location()


@pytest.mark.slow  # MLflow's SQLite store
def test_new_experiments_put_artifacts_where_params_say(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "params.yaml").write_text("tracking:\n  uri: db/m.db\n  artifacts: art\n")
    (tmp_path / "db").mkdir()
    monkeypatch.chdir(tmp_path)
    with tracking.run("exp", "one", {}) as mlflow:
        experiment = mlflow.get_experiment(mlflow.active_run().info.experiment_id)
    assert experiment.artifact_location == (tmp_path.resolve() / "art").as_uri()
    assert (tmp_path / "db" / "m.db").exists()
