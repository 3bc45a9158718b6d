"""MLflow runs worth comparing: flat readable params, standard tags, per-epoch steps without a
step-0 point, ``best_*`` keys, a loadable model, evaluation runs linked to training runs, and
artifacts beside the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import tracking, tracking_model


def test_flat_params_are_readable():
    flat = tracking.flat_params(
        {
            "tasks": ("arrow", "motion", "middle", "distill"),
            "profile": {"epochs": 2, "strides": [1, 2]},
            "out": Path("a/b.pt"),
            "lam": None,
        }
    )
    assert flat == {
        "tasks": "T1+T2+T3+T4",
        "profile.epochs": "2",
        "profile.strides": "1,2",
        "out": "a/b.pt",
        "lam": "none",
    }
    assert tracking.task_label("arrow,middle") == "T1+T3"


def test_best_metrics_and_epoch_records():
    summary = {"best_epoch": 3, "val_joint_loss": 0.5, "config": {"arch": "x"}, "name": "y"}
    assert tracking.best_metrics(summary) == {"best_epoch": 3.0, "best_val_joint_loss": 0.5}
    assert tracking.epoch_metrics({"epoch": 2, "train_loss_arrow": 1.0, "flag": True}) == {
        "train_loss_arrow": 1.0
    }


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite store in a temporary folder (the working directory is elsewhere)."""
    pytest.importorskip("mlflow")
    database = tmp_path / "store" / "mlflow.db"
    database.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return database


@pytest.mark.slow
def test_training_run_is_worth_comparing(store: Path):
    import mlflow
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    params = {"arch": "shallow_narrow", "tasks": ["arrow", "middle"], "lam": 0.5}
    with tracking.run("ssmtl-train", "synthetic-sn-T1+T3", params, {"dataset": "synthetic"}) as ml:
        for epoch in (1, 2, 3):
            tracking.log_epoch({"epoch": epoch, "val_joint_loss": 1.0 / epoch}, step=epoch)
        tracking.log_best({"best_epoch": 3, "val_joint_loss": 1 / 3, "config": {}})
        example = torch.randn(5, 4)
        info = tracking_model.log_model(model.eval(), example)
        run_id = ml.active_run().info.run_id
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    assert run.data.params["tasks"] == "T1+T3"
    assert run.data.tags["mlflow.source.git.commit"] == tracking.git_commit()
    assert run.data.tags["mlflow.runName"] == "synthetic-sn-T1+T3"
    history = client.get_metric_history(run_id, "val_joint_loss")
    assert [m.step for m in history] == [1, 2, 3]  # no step-0 summary point
    assert "epoch" not in run.data.metrics
    assert run.data.metrics["best_val_joint_loss"] == pytest.approx(1 / 3)
    assert run.data.metrics["best_epoch"] == 3
    # artifacts beside the store, not under the working directory
    artifact_uri = run.info.artifact_uri
    assert artifact_uri.startswith((store.parent / "mlruns").as_uri()), artifact_uri
    assert not (Path.cwd() / "mlruns").exists()
    # the model loads back and computes the same thing; it carries its signature
    loaded = mlflow.pytorch.load_model(f"runs:/{run_id}/model")
    with torch.no_grad():
        assert np.allclose(loaded(example).numpy(), model(example).numpy())
    assert info.signature is not None and info.saved_input_example_info is not None


@pytest.mark.slow
def test_evaluation_run_is_linked_to_its_training_run(store: Path, tmp_path: Path):
    import mlflow

    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"weights")
    with tracking.run("ssmtl-train", "train", {}) as ml:
        tracking.tag_model_file(checkpoint)
        train_id = ml.active_run().info.run_id
    assert tracking.training_run_of(checkpoint) == train_id
    assert tracking.training_run_of(checkpoint, "ssmtl-train") == train_id
    with tracking.run("ssmtl-evaluate", "evaluate", {}) as ml:
        tracking.link_to_training(tracking.training_run_of(checkpoint))
        eval_id = ml.active_run().info.run_id
    client = mlflow.MlflowClient()
    assert client.get_run(eval_id).data.tags[tracking.TRAINING_RUN_TAG] == train_id
    tags = client.get_run(train_id).data.tags
    assert tags["ssmtl.evaluation_run_id.ssmtl-evaluate"] == eval_id
    other = tmp_path / "other.pt"
    other.write_bytes(b"other")
    assert tracking.training_run_of(other) is None


@pytest.mark.slow
def test_parent_run_is_named_and_holds_its_summary(store: Path, tmp_path: Path):
    import mlflow

    parent = tracking.parent_run("ssmtl-ablation", "ablation.yaml (synthetic)", {"sweep": "abc"})
    summary = tmp_path / "summary.csv"
    summary.write_text("row,auc\nsn_all,0.9\n")
    tracking.log_run_artifact(parent, summary)
    run = mlflow.MlflowClient().get_run(parent)
    assert run.info.run_name == "ablation.yaml (synthetic)"
    assert run.data.tags["mlflow.source.git.commit"] == tracking.git_commit()
    names = [f.path for f in mlflow.MlflowClient().list_artifacts(parent)]
    assert names == ["summary.csv"]
    assert tracking.parent_run("ssmtl-ablation", "again", {"sweep": "abc"}) == parent


@pytest.mark.slow
def test_sweep_summary_lists_the_finished_rows(store: Path):
    import mlflow

    from bench.suite.ablation import EXPERIMENT, log_sweep_summary, parent_name, sweep_summary

    inputs = Path("artifacts/ablation/inputs")
    name = parent_name(Path("experiments/ablation.yaml"), "synthetic", inputs, "k")
    assert name == "ablation.yaml synthetic ablation (sweep k)"
    parent = tracking.parent_run(EXPERIMENT, name, {"sweep": "k"})
    for row, auc in (("sn_T1", 0.7), ("sn_all", 0.9)):
        tags = {"row": row, "seed": "0", "arch": "shallow_narrow", "tasks": "T1", "level": "object"}
        with tracking.run(EXPERIMENT, f"{row}-s0", {}, tags, parent_run_id=parent) as ml:
            ml.log_metric("auc_micro", auc)
            tracking.log_best({"best_epoch": 2, "val_joint_loss": 0.5})
    lines = sweep_summary(parent).splitlines()
    assert lines[0].startswith("row,seed,arch,tasks,level,auc_micro")
    assert lines[1].startswith("sn_T1,0,shallow_narrow,T1,object,0.7000")
    assert lines[2].endswith(",2.0000,0.5000") and len(lines) == 3
    log_sweep_summary(parent)
    assert [f.path for f in mlflow.MlflowClient().list_artifacts(parent)] == ["summary.csv"]


@pytest.mark.slow
def test_ssmtl_model_with_a_task_argument_loads_back(store: Path, caplog: pytest.LogCaptureFixture):
    """SSMTL's forward(x, task) cannot be exported from one input: it is pickled and loads, and
    logging it does not warn that its input example fails to serve (it needs a task)."""
    import logging

    import mlflow
    import torch

    from bench.model import SSMTL

    model = SSMTL("shallow_narrow", ("arrow", "middle")).eval()
    x = torch.randn(2, 3, 3, 64, 64)
    with torch.no_grad():
        out = model(x, "arrow")
    with tracking.run("ssmtl-train", "probe", {}) as ml, caplog.at_level(logging.WARNING):
        info = tracking_model.log_model(model, x, out)
        run_id = ml.active_run().info.run_id
    assert not [r for r in caplog.records if "serving input" in r.getMessage()]
    loaded = mlflow.pytorch.load_model(f"runs:/{run_id}/model")
    with torch.no_grad():
        assert torch.allclose(loaded(x, "arrow"), out)
    assert list(info.signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 3, 3, 64, 64]


def test_tracking_off_records_nothing_and_needs_no_mlflow(tmp_path, monkeypatch):
    """SSMTL_TRACKING=off (a lent GPU without MLflow): a training run's tracking calls do
    nothing, import no mlflow and write no store."""
    import sys

    import torch

    monkeypatch.setenv("SSMTL_TRACKING", "off")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # any `import mlflow` now fails
    monkeypatch.chdir(tmp_path)
    with tracking.run("ssmtl-train", "off", {"arch": "shallow_narrow"}) as ml:
        tracking.log_epoch({"epoch": 1, "val_joint_loss": 1.0}, step=1)
        tracking.log_best({"best_epoch": 1})
        ml.log_metrics({"train_seconds": 1.0})
        assert tracking_model.log_model(torch.nn.Linear(2, 2), torch.zeros(1, 2)) is None
        assert not ml.active_run()
    assert tracking.find_run("ssmtl-train", {"dataset": "x"}) is None
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("SSMTL_TRACKING", "on")
    with pytest.raises(ImportError):
        tracking.log_epoch({"epoch": 1}, step=1)
