"""Scale-out search on a real PostgreSQL server: two ``ssmtl search`` workers share one Optuna
study (heartbeats, a killed worker's trial retried); no trial lost, none duplicated.

The server is the machine's own PostgreSQL (``initdb``/``pg_ctl`` on PATH or under
/usr/lib/postgresql/*/bin), started in a temporary folder on a free port with trust
authentication; the driver is psycopg2 (in the ``dev`` extra, so CI's ``pip install -e
".[dev]"`` has it; its absence is a failure, not a skip). Skipped, with the reason, only where
PostgreSQL's ``initdb``/``pg_ctl`` are not installed.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """``postgresql://postgres@127.0.0.1:PORT/postgres`` of a server of our own."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip(
            "PostgreSQL's initdb/pg_ctl are neither on PATH nor under /usr/lib/postgresql/*/bin "
            "(apt install postgresql)"
        )
    import psycopg2  # noqa: F401 - the driver: pip install -e '.[dev]' (or '.[postgres]')

    # not under pytest's tmp folder: pytest keeps it private to root (0700) at every session start
    folder = Path(tempfile.mkdtemp(prefix="ssmtl-pg-"))
    data, port = folder / "data", free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    log = folder / "server.log"
    subprocess.run(
        [*run_as, pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def worker(data: dict, storage: str, folder: Path, log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-c",
        "import sys; from bench.cli import main; sys.exit(main())",
        "search",
        "synthetic",
        "--root",
        str(data["root"]),
        "--detections",
        str(data["detections"]),
        "--teachers",
        str(data["teachers"]),
        "--tubes-root",
        str(data["tubes"]),
        "--t-values",
        "1",
        "--lams",
        "0.1,0.2,0.5,1.0",
        "--tasks",
        "middle,distill",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--frame-stride",
        "6",
        "--pruner",
        "none",
        "--heartbeat",
        "1",
        "--storage",
        storage,
        "--out",
        str(folder / f"{log.stem}.json"),
    ]
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": data["mlflow"],
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path]),
    }
    handle = log.open("w")
    return subprocess.Popen(command, cwd=folder, env=env, stdout=handle, stderr=subprocess.STDOUT)


def trials(storage: str) -> list:
    import optuna

    return optuna.load_study(study_name="ssmtl-synthetic", storage=storage).trials


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - the study does not exist yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_on_postgres_train_every_point_once_and_retry_a_killed_trial(
    postgres, search_data, tmp_path
):
    storage = postgres
    first = worker(search_data, storage, tmp_path, tmp_path / "killed.log")
    try:  # kill the first worker while its first trial trains
        wait_for(
            lambda: any(
                t.state.name == "RUNNING" and "mlflow_run_id" in t.user_attrs
                for t in trials(storage)
            ),
            180,
            "the first worker's trial",
        )
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait()
    killed = [t.number for t in trials(storage) if t.state.name == "RUNNING"]
    assert len(killed) == 1
    time.sleep(2.5)  # past the grace period (2 x heartbeat): the trial is stale
    # both at once: the grid sampler and the duplicate check must keep them apart
    workers = [worker(search_data, storage, tmp_path, tmp_path / f"{n}.log") for n in "ab"]
    codes = [w.wait(timeout=300) for w in workers]
    logs = {p.name: p.read_text()[-2000:] for p in tmp_path.glob("*.log")}
    assert codes == [0, 0], logs

    final = trials(storage)
    states = {t.number: (t.state.name, t.params, t.user_attrs.get("duplicate_of")) for t in final}
    assert final[killed[0]].state.name == "FAIL"  # the killed worker's trial
    retried = [t for t in final if t.system_attrs.get("retry_of") == killed[0]]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE", states
    trained = sorted(
        (t.params["t"], t.params["lam"])
        for t in final
        if t.state.name == "COMPLETE" or "mlflow_run_id" in t.user_attrs
        if t.number != killed[0]
    )
    assert trained == [(1, 0.1), (1, 0.2), (1, 0.5), (1, 1.0)], states  # each point once
    for trial in final:  # nothing left running or queued; a duplicate trained nothing
        assert trial.state.name in ("COMPLETE", "FAIL"), states
        if trial.state.name == "FAIL" and trial.number != killed[0]:
            assert "duplicate_of" in trial.user_attrs, states
            assert "mlflow_run_id" not in trial.user_attrs, states
    summaries = [json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab"]
    assert summaries[0]["best"] == summaries[1]["best"]


@pytest.fixture(scope="module")
def search_data(tmp_path_factory):
    """The tiny synthetic dataset, oracle training boxes, random teachers, an MLflow store."""
    import numpy as np

    from bench.data import open_dataset
    from bench.data.synth import generate
    from bench.pipeline import make_detector, run_detect

    tmp = tmp_path_factory.mktemp("pg_search")
    root = generate(tmp / "s", seed=0, preset="tiny")
    boxes = str(root / "detections/boxes_train.npz")
    detector = make_detector("precomputed", "", 0.0, 640, boxes, "cpu")
    detections = run_detect(open_dataset("synthetic", root), "train", detector, tmp / "det.npz")
    teachers = tmp / "teachers.npy"
    rng = np.random.default_rng(0)
    np.save(teachers, rng.standard_normal((len(detections), 1080)).astype(np.float32))
    return {
        "root": root,
        "detections": tmp / "det.npz",
        "teachers": teachers,
        "tubes": tmp / "tubes",
        "mlflow": f"sqlite:///{tmp / 'mlflow.db'}",
    }
