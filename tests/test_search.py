"""The Optuna search of t and lambda (bench.suite.search) on the synthetic tiny preset (CPU).

Real trainings are kept tiny: a 2x2 grid (t in {1, 2}, lambda in {0.1, 1.0}), the middle-box and
distillation tasks, 1-2 epochs, the objects of every 6th frame (~30 tubes), one torch thread (see
tests/test_train.py). Pruning, TPE and the objectives run with a stand-in trainer (instant).
The kill test runs the CLI in a subprocess, SIGKILLs it while its second trial trains, and
resumes it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

from bench.cli import main as ssmtl
from bench.data import open_dataset
from bench.data.synth import generate
from bench.paper import LAMBDA_GRID as PAPER_LAMS
from bench.paper import T_GRID as PAPER_T_VALUES
from bench.pipeline import make_detector, run_detect
from bench.suite.search import read_best, run_search
from bench.suite.search_config import SearchConfig, grid_points
from bench.suite.search_objective import (
    chance_losses,
    common_objects,
    load_training_data,
    objective_value,
)
from bench.suite.search_study import make_sampler, public_storage, suggest

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(
    t_values=(1, 2),
    lams=(0.1, 1.0),
    tasks=("middle", "distill"),
    epochs=2,
    batch_size=8,
    device="cpu",
    frame_stride=6,
)


@pytest.fixture(autouse=True, scope="module")
def torch_settings():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The tiny synthetic dataset, its training detections (oracle boxes) and random teachers."""
    tmp = tmp_path_factory.mktemp("search_data")
    root = generate(tmp / "s", seed=0, preset="tiny")
    dataset = open_dataset("synthetic", root)
    detector = make_detector(
        "precomputed", "", 0.0, 640, str(root / "detections/boxes_train.npz"), "cpu"
    )
    detections = run_detect(dataset, "train", detector, tmp / "det.npz")
    teachers = tmp / "teachers.npy"
    np.save(
        teachers,
        np.random.default_rng(0).standard_normal((len(detections), 1080)).astype(np.float32),
    )
    mlflow_uri = f"sqlite:///{tmp / 'mlflow.db'}"
    from mlflow import MlflowClient

    MlflowClient(
        mlflow_uri
    ).search_experiments()  # creates the store once (its migrations take seconds)
    return {
        "root": root,
        "dataset": dataset,
        "detections": tmp / "det.npz",
        "teachers": teachers,
        "tubes": tmp / "tubes",
        "mlflow": mlflow_uri,
    }


@pytest.fixture
def work(tmp_path, monkeypatch, data, request):
    """A working folder (relative artifact paths land in it), the module's MLflow store, and an
    MLflow experiment of the test's own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", data["mlflow"])
    data["experiment"] = f"search-{request.node.name}"
    return tmp_path


def search(data: dict, config: SearchConfig, out: Path, **options) -> dict:
    """:func:`run_search` on the module's synthetic data, tracked under its experiment."""
    options.setdefault("experiment", data["experiment"])
    return run_search(
        data["dataset"], data["detections"], data["teachers"], data["tubes"], config, out, **options
    )


def storage_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'optuna.db'}"


def mlflow_runs(data: dict, experiment: str) -> tuple[list, list]:
    """(parent runs, child runs) of an experiment in the module's MLflow store."""
    from mlflow import MlflowClient

    client = MlflowClient(data["mlflow"])
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("optuna_role") == "study"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def done_per_point(study) -> dict[tuple[int, float], list]:
    points: dict[tuple[int, float], list] = {}
    for trial in study.get_trials():
        if trial.state.name in ("COMPLETE", "PRUNED"):
            points.setdefault((trial.params["t"], trial.params["lam"]), []).append(trial)
    return points


# --- (5) the paper's grid -------------------------------------------------------------------------


def test_grid_sampler_points_are_the_papers_grid():
    config = SearchConfig()
    assert (config.t_values, config.lams, config.sampler, config.objective) == (
        PAPER_T_VALUES,
        PAPER_LAMS,
        "grid",
        "normalized",
    )
    assert (config.t_values, config.lams) == ((1, 2, 3, 4), (0.1, 0.2, 0.5, 1.0))
    sampler = make_sampler(config)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda trial: sum(suggest(trial, config)), n_trials=16)
    seen = [(trial.params["t"], trial.params["lam"]) for trial in study.trials]
    assert (
        sorted(seen)
        == sorted(grid_points(config))
        == [(t, lam) for t in (1, 2, 3, 4) for lam in (0.1, 0.2, 0.5, 1.0)]
    )
    assert sampler.is_exhausted(study)


# --- (1) + (3) a complete grid, MLflow, a rerun that runs nothing ---------------------------------


@pytest.mark.slow
def test_complete_grid_best_is_argmin_and_mlflow_runs(data, work):
    config = SearchConfig(**{**SMALL, "epochs": 1}, storage=storage_url(work))
    out = work / "search.json"
    summary = search(data, config, out)

    study = optuna.load_study(study_name="ssmtl-synthetic", storage=storage_url(work))
    points = done_per_point(study)
    assert sorted(points) == sorted(grid_points(config))
    assert all(len(trials) == 1 for trials in points.values())
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    best = min(complete, key=lambda t: t.value)
    assert summary["best"] == {
        "t": best.params["t"],
        "lam": best.params["lam"],
        "value": best.value,
        "trial": best.number,
    }
    assert json.loads(out.read_text()) == json.loads(json.dumps(summary))
    assert read_best(out) == (best.params["t"], best.params["lam"])
    assert summary["paper"] == {"t": 3, "lam": 0.5}
    assert summary["profile"] == {
        "arch": "shallow_narrow",
        "tasks": ["middle", "distill"],
        "epochs": 1,
        "batch_size": 8,
        "lr": 1e-3,
        "seed": 0,
        "device": "cpu",
        "precision": "auto",
        "frame_stride": 6,
    }
    assert {row["number"]: row["epochs_run"] for row in summary["trials"]} == {
        t.number: 1 for t in study.trials
    }
    assert sorted(data["tubes"].iterdir()) == [data["tubes"] / "t1", data["tubes"] / "t2"]

    parents, children = mlflow_runs(data, data["experiment"])
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags["optuna_study"] == "ssmtl-synthetic"
    assert parents[0].data.metrics["best_value"] == pytest.approx(best.value)
    assert len(children) == 4 and {c.data.tags["mlflow.parentRunId"] for c in children} == {
        parents[0].info.run_id
    }
    by_trial = {int(c.data.tags["optuna_trial"]): c for c in children}
    for trial in study.trials:
        child = by_trial[trial.number]
        assert child.data.tags["optuna_trial_state"] == trial.state.name
        assert (int(child.data.params["t"]), float(child.data.params["lam"])) == (
            trial.params["t"],
            trial.params["lam"],
        )
        assert child.data.metrics["value"] == pytest.approx(trial.value)

    # A rerun finds nothing to do: no trial rerun, the same parent run.
    again = search(data, config, out)
    assert (
        len(optuna.load_study(study_name="ssmtl-synthetic", storage=storage_url(work)).trials) == 4
    )
    assert again["best"] == summary["best"]
    parents, children = mlflow_runs(data, data["experiment"])
    assert len(parents) == 1 and len(children) == 4

    # Another grid under the same study name is refused, naming the study.
    with pytest.raises(ValueError, match="ssmtl-synthetic.*other settings"):
        search(
            data,
            SearchConfig(**{**SMALL, "epochs": 1, "lams": (0.2, 1.0)}, storage=storage_url(work)),
            out,
        )
    # The training precision is part of the identity; a study stored before it was resumes.
    fp32 = SearchConfig(**{**SMALL, "epochs": 1, "precision": "fp32"}, storage=storage_url(work))
    with pytest.raises(ValueError, match="other settings.*precision"):
        search(data, fp32, out)
    stored = optuna.load_study(study_name="ssmtl-synthetic", storage=storage_url(work))
    stored.set_user_attr(
        "search", {k: v for k, v in stored.user_attrs["search"].items() if k != "precision"}
    )
    assert search(data, config, out)["best"] == summary["best"]


# --- (2) + (3) kill mid-trial, resume -------------------------------------------------------------


def cli(data, folder: Path, *extra: str) -> list[str]:
    return [
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
        "1,2",
        "--lams",
        "0.1,1.0",
        "--tasks",
        "middle,distill",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--frame-stride",
        "6",
        "--storage",
        storage_url(folder),
        "--out",
        str(folder / "search.json"),
        "--experiment",
        "search-kill",
        *extra,
    ]


@pytest.mark.slow
def test_killed_study_resumes_without_losing_or_rerunning_a_trial(data, tmp_path):
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": data["mlflow"],
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO),
    }
    log = (tmp_path / "first.log").open("w")
    process = subprocess.Popen(
        cli(data, tmp_path), cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    killed_while = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
            # Read the storage with sqlite3, read-only: an optuna RDBStorage here could race the
            # subprocess's creation of the tables.
            try:
                with closing(
                    sqlite3.connect(f"file:{tmp_path / 'optuna.db'}?mode=ro", uri=True, timeout=5)
                ) as con:
                    states = [
                        state
                        for (state,) in con.execute("SELECT state FROM trials ORDER BY number")
                    ]
                    training = con.execute(
                        "SELECT COUNT(*) FROM trials t "
                        "JOIN trial_user_attributes a ON a.trial_id = t.trial_id "
                        "WHERE t.state = 'RUNNING' AND a.key = 'mlflow_run_id'"
                    ).fetchone()[0]
            except sqlite3.OperationalError:  # no file or no tables yet
                continue
            if states.count("COMPLETE") >= 1 and training:  # the second trial is training
                process.send_signal(signal.SIGKILL)
                killed_while = states
                break
    finally:
        if process.poll() is None and killed_while is None:
            process.kill()
        process.wait()
        log.close()
    tail = (tmp_path / "first.log").read_text()[-3000:]
    assert killed_while is not None, (
        f"the search ended (rc {process.returncode}) "
        f"or stalled before its second trial started: {tail}"
    )

    study = optuna.load_study(study_name="ssmtl-synthetic", storage=storage_url(tmp_path))
    before = {t.number: (t.params, t.value) for t in study.trials if t.state.name == "COMPLETE"}
    running = [t.number for t in study.trials if t.state.name == "RUNNING"]
    assert len(before) >= 1 and len(running) == 1  # the kill landed inside a trial

    result = subprocess.run(
        cli(data, tmp_path), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]

    study = optuna.load_study(study_name="ssmtl-synthetic", storage=storage_url(tmp_path))
    states = {t.number: t.state.name for t in study.trials}
    assert states[running[0]] == "FAIL"  # the killed trial, failed and queued again
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 4
    points = done_per_point(study)
    assert sorted(points) == [(1, 0.1), (1, 1.0), (2, 0.1), (2, 1.0)] and all(
        len(v) == 1 for v in points.values()
    )
    for number, (params, value) in before.items():  # kept, not rerun
        assert states[number] == "COMPLETE"
        assert study.trials[number].params == params and study.trials[number].value == value
    retry = [t for t in study.trials if t.system_attrs.get("retry_of") == running[0]]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE"
    assert retry[0].params == study.trials[running[0]].params

    summary = json.loads((tmp_path / "search.json").read_text())
    listed = {row["number"]: row for row in summary["trials"]}
    assert {n for n, row in listed.items() if row["state"] == "COMPLETE"} == {
        t.number for t in complete
    }
    assert listed[running[0]]["state"] == "FAIL"
    best = min(complete, key=lambda t: t.value)
    assert read_best(tmp_path / "search.json") == (best.params["t"], best.params["lam"])

    parents, children = mlflow_runs(data, "search-kill")
    assert len(parents) == 1  # resumed, not a second parent
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    finished = sorted(
        int(c.data.tags["optuna_trial"])
        for c in children
        if c.data.tags["optuna_trial_state"] in ("COMPLETE", "PRUNED")
    )
    assert finished == sorted(t.number for t in complete)
    killed = [c for c in children if int(c.data.tags["optuna_trial"]) == running[0]]
    assert (
        len(killed) == 1
        and killed[0].info.status == "KILLED"
        and killed[0].data.tags["optuna_trial_state"] == "FAIL"
    )
    assert all(c.info.status in ("FINISHED", "KILLED") for c in children)


# --- pruning, objectives and TPE with a stand-in trainer ------------------------------------------


class FakeTrainer:
    """Calls ``on_epoch`` with made-up validation records: call k's joint loss is ``k + 1`` at every
    epoch (so each trial after the first is worse than the median of the earlier ones)."""

    def __init__(self):
        self.calls = []

    def __call__(self, cache, teachers, config, on_epoch=None, objects=None):
        k = len(self.calls)
        self.calls.append((cache.t, config.lam))
        for epoch in range(1, config.epochs + 1):
            record = {
                "val_joint_loss": k + 1.0 + 0.1 / epoch,
                "val_loss_middle": 0.25,
                "val_loss_distill": 0.5,
            }
            on_epoch(epoch, record)


@pytest.mark.slow
def test_pruning_reports_every_epoch_keeps_the_grid_whole_and_a_pruned_trial_counts_as_done(
    data, work
):
    config = SearchConfig(
        **{**SMALL, "epochs": 4},
        storage=storage_url(work),
        pruner_startup=1,
        pruner_warmup=1,
        objective="joint",
    )
    fake = FakeTrainer()
    summary = search(data, config, work / "s.json", trainer=fake)
    study = optuna.load_study(study_name="ssmtl-synthetic", storage=storage_url(work))
    states = [t.state.name for t in study.trials]
    # every trial after the first is worse than the median, but a trial is pruned only once
    # its t and its lambda each have a finished trial: no t and no lambda loses every trial
    complete = [t.params for t in study.trials if t.state.name == "COMPLETE"]
    assert {p["t"] for p in complete} == set(config.t_values)
    assert {p["lam"] for p in complete} == set(config.lams)
    assert "PRUNED" in states and states[0] == "COMPLETE"
    for trial in study.trials:
        if trial.state.name == "PRUNED":
            earlier = [p.params for p in study.trials[: trial.number] if p.state.name == "COMPLETE"]
            assert any(p["t"] == trial.params["t"] for p in earlier)
            assert any(p["lam"] == trial.params["lam"] for p in earlier)
    assert sorted(done_per_point(study)) == sorted(grid_points(config))
    first = study.trials[0]
    assert first.intermediate_values == {
        e: pytest.approx(1.0 + 0.1 / 4 if e == 4 else 1.0 + 0.1 / e) for e in range(1, 5)
    }
    assert first.value == pytest.approx(1.025)  # the lowest over the epochs
    for row in summary["trials"]:
        if row["state"] == "PRUNED":
            assert row["epochs_run"] == 2  # warmup 1: pruned at epoch 2
    assert summary["best"]["trial"] == 0
    _, children = mlflow_runs(data, data["experiment"])
    assert sorted(c.data.tags["optuna_trial_state"] for c in children) == sorted(states)
    assert all(c.info.status == "FINISHED" for c in children)


def test_objectives_joint_is_eq5_unweighted_is_the_lambda_one_sum():
    record = {
        "val_joint_loss": 0.3 + 0.2 * 2.0,
        "val_loss_middle": 0.3,
        "val_loss_distill": 2.0,
        "train_joint_loss": 9.0,
    }
    joint = SearchConfig(**{**SMALL, "lams": (0.2,)}, objective="joint")
    assert objective_value(record, joint) == pytest.approx(0.7)
    unweighted = SearchConfig(**{**SMALL, "lams": (0.2,)}, objective="unweighted")
    assert objective_value(record, unweighted) == pytest.approx(2.3)


@pytest.mark.slow
def test_tpe_samples_t_and_continuous_lambda_and_extends_on_rerun(data, work):
    config = SearchConfig(
        **{**SMALL, "epochs": 1},
        storage=storage_url(work),
        sampler="tpe",
        n_trials=5,
        pruner="none",
    )
    fake = FakeTrainer()
    search(data, config, work / "s.json", trainer=fake)
    assert len(fake.calls) == 5
    assert all(t in (1, 2) and 0.05 <= lam <= 1.0 for t, lam in fake.calls)
    more = SearchConfig(
        **{**SMALL, "epochs": 1},
        storage=storage_url(work),
        sampler="tpe",
        n_trials=7,
        pruner="none",
    )
    summary = search(data, more, work / "s.json", trainer=fake)
    assert len(fake.calls) == 7 and len(summary["trials"]) == 7
    assert summary["sampler"] == "tpe" and summary["paper"] == {"t": 3, "lam": 0.5}


@pytest.mark.slow
def test_heartbeat_mode_fails_and_requeues_a_trial_whose_heartbeat_stopped(data, work):
    """Several workers (--heartbeat): a RUNNING trial is dead once its heartbeat is older than the
    grace period (2 x heartbeat); its point is queued again and run once."""
    from bench.suite.search_study import normalize_storage, open_study

    config = SearchConfig(
        **{**SMALL, "epochs": 1}, storage=storage_url(work), heartbeat=1, pruner="none"
    )
    study = open_study(config, "ssmtl-synthetic", normalize_storage(config.storage))
    with pytest.warns(
        UserWarning, match="Heartbeat"
    ):  # optuna: heartbeats are meant for optimize()
        dead = study.ask()
    point = suggest(dead, config)
    study._storage.record_heartbeat(dead._trial_id)
    time.sleep(3.1)  # > grace period 2 s at SQLite's 1-second timestamp resolution
    fake = FakeTrainer()
    summary = search(data, config, work / "s.json", trainer=fake)
    states = {row["number"]: row["state"] for row in summary["trials"]}
    assert states == {0: "FAIL", 1: "COMPLETE", 2: "COMPLETE", 3: "COMPLETE", 4: "COMPLETE"}
    assert (
        sorted(fake.calls) == sorted(grid_points(config)) and fake.calls[0] == point
    )  # the dead point first


# --- (4) read_best, the CLI's bad input, the storage URL ------------------------------------------


def test_read_best_round_trip_and_errors_name_the_file(tmp_path):
    path = tmp_path / "search.json"
    path.write_text(json.dumps({"best": {"t": 3, "lam": 0.2, "value": 1.0, "trial": 5}}))
    assert read_best(path) == (3, 0.2)
    path.write_text(json.dumps({"best": {"t": 3}}))
    with pytest.raises(ValueError, match=rf"{path}.*best\.lam"):
        read_best(path)
    path.write_text(json.dumps({"dataset": "ped2"}))
    with pytest.raises(ValueError, match=rf"{path}.*'best'"):
        read_best(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=str(path)):
        read_best(path)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "missing.json")):
        read_best(tmp_path / "missing.json")


@pytest.mark.slow
def test_cli_bad_input_exits_2(data, work, capsys):
    base = [
        "synthetic",
        "--root",
        str(data["root"]),
        "--detections",
        str(data["detections"]),
        "--storage",
        storage_url(work),
        "--out",
        str(work / "o.json"),
    ]
    assert ssmtl(["search", *base]) == 2  # distill without --teachers
    assert "--teachers" in capsys.readouterr().err
    assert ssmtl(["search", *base, "--teachers", str(work / "none.npy")]) == 2
    assert "none.npy" in capsys.readouterr().err
    assert ssmtl(["search", *base, "--tasks", "middle,typo"]) == 2
    assert "tasks" in capsys.readouterr().err
    assert (
        ssmtl(
            [
                "search",
                "synthetic",
                "--root",
                str(work / "nowhere"),
                "--detections",
                str(data["detections"]),
                "--tasks",
                "middle",
                "--storage",
                storage_url(work),
            ]
        )
        == 2
    )
    with pytest.raises(SystemExit):
        ssmtl(["search", *base, "--sampler", "random"])


def test_storage_password_never_written():
    assert (
        public_storage("postgresql://user:secret@host:5432/db") == "postgresql://user@host:5432/db"
    )
    assert (
        public_storage("sqlite:///artifacts/search/optuna.db")
        == "sqlite:///artifacts/search/optuna.db"
    )


# --- an objective that compares trials fairly --------------------------------------------------


@pytest.mark.slow
def test_every_t_validates_on_the_same_objects(data, work):
    config = SearchConfig(**{**SMALL, "t_values": (1, 2, 3), "frame_stride": 1})
    caches, teachers = load_training_data(
        data["dataset"], data["detections"], data["teachers"], work / "tubes", config
    )
    objects = common_objects(caches)
    fraction = config.train_config(0.5).train_fraction
    validation = {}
    for t, cache in caches.items():
        _, val_rows = cache.train_val_split(fraction)
        rows = np.intersect1d(val_rows, objects[t])
        validation[t] = sorted(cache.detection_row[rows].tolist())
    assert validation[1] == validation[2] == validation[3] and validation[1]
    chance = chance_losses(caches[3], teachers, objects[3], config)
    assert set(chance) == {"middle", "distill"} and all(v > 0 for v in chance.values())


@pytest.mark.slow
def test_normalized_objective_does_not_depend_on_the_lambda_a_model_was_trained_with(data):
    """A fixed model's validation record under two lambdas differs in the joint loss only: the
    joint objective then prefers the smaller lambda, the normalized one does not move."""
    from bench.model import SSMTL
    from bench.train import run_epoch

    config = SearchConfig(**{**SMALL, "t_values": (1,)})
    caches, teachers = load_training_data(
        data["dataset"], data["detections"], data["teachers"], data["tubes"], config
    )
    cache = caches[1]
    _, val_rows = cache.train_val_split(0.85)
    torch.manual_seed(0)
    model = SSMTL("shallow_narrow", config.tasks, n_distill=teachers.shape[1])
    chance = chance_losses(cache, teachers, np.arange(len(cache)), config)
    records = {}
    for lam in (0.1, 1.0):
        train_config = config.train_config(lam)
        stats = run_epoch(model, cache, teachers, val_rows, train_config, None, None, "validate")
        records[lam] = stats.flat("val")
    normalized = {lam: objective_value(r, config, chance) for lam, r in records.items()}
    joint = SearchConfig(**{**SMALL, "t_values": (1,)}, objective="joint")
    joints = {lam: objective_value(r, joint) for lam, r in records.items()}
    assert normalized[0.1] == pytest.approx(normalized[1.0], rel=1e-9)
    assert joints[0.1] < joints[1.0]  # the bias the normalized objective removes
    # an untrained model is near chance on every task: the objective is about 1, not 0 or 10
    assert 0.5 < normalized[0.1] < 3.0


def test_grid_sampler_never_hands_out_a_held_point_and_a_duplicate_steps_back():
    """Two workers' trials at once (one process here): the sampler skips a running point; once
    every point is held, the point it must give is found a duplicate by the objective's check."""
    import optuna

    from bench.suite.search_study import duplicate_of, make_sampler, suggest

    config = SearchConfig(t_values=(1,), lams=(0.1, 1.0))
    study = optuna.create_study(sampler=make_sampler(config))
    first, second, third = study.ask(), study.ask(), study.ask()  # all RUNNING at once
    points = [suggest(trial, config) for trial in (first, second, third)]
    assert sorted(points[:2]) == [(1, 0.1), (1, 1.0)]  # never the point another one runs
    held = [first, second][points.index(points[2])]  # the one whose point the third got
    alone = second if held is first else first
    assert duplicate_of(alone, suggest(alone, config)) is None
    # both holders of one point see each other (at most one trains; both may step back)
    assert duplicate_of(third, points[2]) == held.number
    assert duplicate_of(held, points[2]) == third.number
    third.set_user_attr("duplicate_of", held.number)  # the third stepped back: held trains
    assert duplicate_of(held, points[2]) is None
