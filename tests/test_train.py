"""Joint training (bench.train): eq. (1)-(5) on hand tensors, the paper's defaults, and a short real
run on the synthetic tiny preset (CPU).

The real run uses a subset of the tiny preset's training detections (every 9th row, ~22 tubes):
a 3D CNN's backward pass on a CPU is slow, and the whole file must stay well under a minute. The
file runs torch single-threaded: on a small, shared CPU, torch's OpenMP threads competing with
other processes made the same run >10x slower (38 s instead of 3 s).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

import bench.train as train_module
from bench.data import open_dataset
from bench.data.synth import generate
from bench.detection import load_precomputed
from bench.errors import InputError
from bench.model import TASKS
from bench.paper import BATCH_SIZE as PAPER_BATCH_SIZE
from bench.tasks import joint_loss, task_losses
from bench.train import (
    TrainConfig,
    load_batch,
    load_checkpoint,
    save_checkpoint,
    train,
)
from bench.tubes import build_tube_cache

LN3 = math.log(3.0)


@pytest.fixture(autouse=True, scope="module")
def torch_settings():
    """One torch thread (see the module docstring); afterwards restore the count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- eq. (5) --------------------------------------------------------------------------------------


def test_joint_loss_eq5_lambda_only_on_distill():
    losses = {
        "arrow": torch.tensor(1.0),
        "motion": torch.tensor(2.0),
        "middle": torch.tensor(3.0),
        "distill": torch.tensor(4.0),
    }
    assert float(joint_loss(losses, 0.5)) == pytest.approx(1 + 2 + 3 + 0.5 * 4)  # 8
    assert float(joint_loss(losses, 0.2)) == pytest.approx(1 + 2 + 3 + 0.2 * 4)  # 6.8
    assert float(
        joint_loss({"arrow": torch.tensor(1.0), "middle": torch.tensor(3.0)}, 0.5)
    ) == pytest.approx(4.0)
    assert float(joint_loss({"distill": torch.tensor(4.0)}, 0.25)) == pytest.approx(1.0)


def test_joint_loss_gradients():
    losses = {task: torch.tensor(float(k + 1), requires_grad=True) for k, task in enumerate(TASKS)}
    joint_loss(losses, 0.2).backward()
    assert [float(losses[task].grad) for task in TASKS] == pytest.approx([1.0, 1.0, 1.0, 0.2])


# --- eq. (1)-(4): task_losses with a recording stub -----------------------------------------------


def frame_means(x: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-frame mean ``(B, T)`` of ``(B, 3, T, H, W)``."""
    return x.mean(dim=(1, 3, 4))


class RecordingModel(nn.Module):
    """Heads that look at their input: T1 predicts "forward" (p = 3/4) when the frame values
    increase in time, else "backward" (p = 3/4); T2 predicts "consecutive" (p = 3/4) when the frame
    values are evenly spaced, else "intermittent"; T3 returns 0.5 everywhere; T4 returns zeros."""

    def __init__(self, n_distill: int = 1080):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.n_distill = n_distill
        self.inputs: dict[str, torch.Tensor] = {}

    def arrow(self, x):
        self.inputs["arrow"] = x.clone()
        forward = (frame_means(x).diff(dim=1) > 0).all(dim=1)
        return (
            torch.stack([torch.where(forward, LN3, 0.0), torch.where(forward, 0.0, LN3)], dim=1)
            + 0 * self.dummy
        )

    def motion(self, x):
        self.inputs["motion"] = x.clone()
        steps = frame_means(x).diff(dim=1)
        regular = (steps - steps[:, :1]).abs().max(dim=1).values < 1e-4
        return (
            torch.stack([torch.where(regular, LN3, 0.0), torch.where(regular, 0.0, LN3)], dim=1)
            + 0 * self.dummy
        )

    def middle(self, x):
        self.inputs["middle"] = x.clone()
        return torch.full((x.shape[0], 3, x.shape[3], x.shape[4]), 0.5) + 0 * self.dummy

    def distill(self, x):
        self.inputs["distill"] = x.clone()
        return torch.zeros(x.shape[0], self.n_distill) + 0 * self.dummy


def hand_batch() -> dict[str, torch.Tensor]:
    """t = 2 (5 frames), 2 samples, 64x64. Regular frame k of sample b: constant
    (k + 1) / 10 + b / 100 (evenly spaced, increasing); intermittent sample b: frames at offsets
    (-4, -1, 0, 2, 5) around the middle, value (offset + 3) / 10 + b / 100; teacher sample 0 all
    0.4, sample 1 half 1.0, half -0.2."""
    x = torch.zeros(2, 3, 5, 64, 64)
    inter = torch.zeros(2, 3, 5, 64, 64)
    for b in range(2):
        for k, offset in enumerate((-4, -1, 0, 2, 5)):
            x[b, :, k] = (k + 1) / 10 + b / 100
            inter[b, :, k] = (offset + 3) / 10 + b / 100
    teacher = torch.full((2, 1080), 0.4)
    teacher[1, :540], teacher[1, 540:] = 1.0, -0.2
    return {"regular": x, "intermittent": inter, "teacher": teacher}


def test_task_losses_labels_inputs_and_values():
    batch = hand_batch()
    x = batch["regular"]
    model = RecordingModel()
    losses, figures = task_losses(model, batch, TASKS)
    assert set(losses) == set(TASKS)

    # T1: input = [forward; reversed]; labels forward 0, reversed 1. The stub gives the true class
    # p = 3/4 exactly when those are the labels: CE = -log(3/4) = ln(4/3) for each of the 4 samples.
    torch.testing.assert_close(model.inputs["arrow"], torch.cat([x, x.flip(2)]))
    assert float(losses["arrow"].detach()) == pytest.approx(math.log(4 / 3), abs=1e-6)
    assert figures["correct_arrow"] == 4

    # T2: input = [consecutive; intermittent]; labels 0, 1
    torch.testing.assert_close(model.inputs["motion"], torch.cat([x, batch["intermittent"]]))
    assert float(losses["motion"].detach()) == pytest.approx(math.log(4 / 3), abs=1e-6)
    assert figures["correct_motion"] == 4

    # T3: input = the 2t = 4 context frames (0, 1, 3, 4), target = the middle frame (0.3 + b/100):
    # |0.5 - 0.3| = 0.2 and |0.5 - 0.31| = 0.19 -> mean 0.195, summed per-sample errors 0.39
    context = model.inputs["middle"]
    assert context.shape == (2, 3, 4, 64, 64)
    np.testing.assert_allclose(
        frame_means(context).numpy(), [[0.1, 0.2, 0.4, 0.5], [0.11, 0.21, 0.41, 0.51]], atol=1e-6
    )
    assert float(losses["middle"].detach()) == pytest.approx(0.195, abs=1e-6)
    assert figures["abs_middle"] == pytest.approx(0.39, abs=1e-5)

    # T4: input = the middle frame alone (temporal size 1); |0 - 0.4| = 0.4,
    # (|0 - 1| + |0 + 0.2|) / 2 = 0.6
    assert model.inputs["distill"].shape == (2, 3, 1, 64, 64)
    torch.testing.assert_close(model.inputs["distill"][:, :, 0], x[:, :, 2])
    assert float(losses["distill"].detach()) == pytest.approx(0.5, abs=1e-6)
    assert figures["abs_distill"] == pytest.approx(1.0, abs=1e-5)

    # eq. (5) on these: 2 ln(4/3) + 0.195 + 0.5 * 0.5
    assert float(joint_loss(losses, 0.5).detach()) == pytest.approx(
        2 * math.log(4 / 3) + 0.195 + 0.25, abs=1e-5
    )


def test_task_losses_swapped_labels_would_show():
    """Feeding the reversed sequence as the "regular" one makes T1's stub predictions all wrong:
    CE = -log(1/4) = ln 4, 0 correct. (Guards the hand test above against a vacuous pass.)"""
    batch = hand_batch()
    batch["regular"] = batch["regular"].flip(2)
    losses, figures = task_losses(RecordingModel(), batch, ("arrow",))
    assert float(losses["arrow"].detach()) == pytest.approx(math.log(4), abs=1e-6)
    assert figures["correct_arrow"] == 0


def test_task_losses_subset_calls_only_enabled_heads():
    model = RecordingModel()
    batch = hand_batch()
    del batch["intermittent"], batch["teacher"]  # not needed by arrow and middle
    losses, figures = task_losses(model, batch, ("arrow", "middle"))
    assert set(losses) == {"arrow", "middle"} and set(model.inputs) == {"arrow", "middle"}
    assert set(figures) == {"correct_arrow", "abs_middle"}


def test_task_losses_match_torch_reference_on_random_logits():
    """Eq. (1)/(2) are the mean cross-entropy over the 2B samples; checked against an explicit
    -log softmax written out here."""
    torch.manual_seed(0)
    logits = torch.randn(4, 2)

    class Fixed(RecordingModel):
        def arrow(self, x):
            return logits + 0 * self.dummy

    losses, _ = task_losses(Fixed(), hand_batch(), ("arrow",))
    labels = [0, 0, 1, 1]
    expected = (
        -sum(float(logits[i, labels[i]] - torch.logsumexp(logits[i], 0)) for i in range(4)) / 4
    )
    assert float(losses["arrow"].detach()) == pytest.approx(expected, abs=1e-6)


def test_run_epoch_aggregates_per_object():
    """Validation pass with perfect T1/T2 stubs over 3 tubes in batches of 2 + 1 (t = 1).

    Regular tube i: frames (b - 5, b, b + 5), b = 51 (i + 1), i.e. middles 0.2, 0.4, 0.6 after /255;
    intermittent: (b - 15, b, b + 5). T3 stub 0.5 -> errors 0.3, 0.1, 0.1, mean 0.5 / 3; T4 stub 0
    against teachers 0.25 -> 0.25. T1/T2: p(true class) = 3/4 for all -> accuracy 1, CE ln(4/3)."""
    tubes = np.zeros((3, 3, 3, 64, 64), np.uint8)
    for i in range(3):
        b = 51 * (i + 1)
        for k, value in enumerate((b - 5, b, b + 5)):
            tubes[i, k] = value
    intermittent = tubes.copy()
    intermittent[:, 0] -= 10
    cache = SimpleNamespace(
        tubes=tubes, intermittent=intermittent, index={"detection_row": np.array([0, 1, 2])}
    )
    teachers = np.full((3, 1080), 0.25, np.float32)
    config = TrainConfig(epochs=1, batch_size=2, lam=0.5, device="cpu")
    stats = train_module.run_epoch(
        RecordingModel(), cache, teachers, np.arange(3), config, None, None, "test"
    )
    assert stats.acc_arrow == pytest.approx(1.0) and stats.acc_motion == pytest.approx(1.0)
    assert stats.losses["arrow"] == pytest.approx(math.log(4 / 3), abs=1e-6)
    assert stats.losses["motion"] == pytest.approx(math.log(4 / 3), abs=1e-6)
    assert stats.mae_middle == pytest.approx(0.5 / 3, abs=1e-5)
    assert stats.losses["middle"] == pytest.approx(0.5 / 3, abs=1e-5)  # batch means weighted 2:1
    assert stats.mae_distill == pytest.approx(0.25, abs=1e-6)
    assert stats.joint == pytest.approx(2 * math.log(4 / 3) + 0.5 / 3 + 0.5 * 0.25, abs=1e-5)


def test_load_batch_layout_and_teacher_rows():
    tubes = np.zeros((3, 3, 3, 4, 4), np.uint8)  # (N, T, C, H, W)
    for i in range(3):
        for k in range(3):
            for c in range(3):
                tubes[i, k, c] = 100 * c + 10 * k + i
    cache = SimpleNamespace(
        tubes=tubes, intermittent=255 - tubes, index={"detection_row": np.array([5, 3, 0])}
    )
    teachers = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)  # row r = (2r, 2r + 1)
    batch = load_batch(cache, teachers, np.array([2, 0]), torch.device("cpu"))
    x = batch["regular"]
    assert (
        x.shape == (2, 3, 3, 4, 4) and x.dtype == torch.float32
    )  # (B, C, T, H, W), rows sorted: 0, 2
    assert float(x[0, 2, 1, 0, 0]) == pytest.approx(
        (200 + 10 + 0) / 255
    )  # tube 0, channel 2, frame 1
    assert float(x[1, 1, 2, 3, 3]) == pytest.approx(
        (100 + 20 + 2) / 255
    )  # tube 2, channel 1, frame 2
    assert float(batch["intermittent"][1, 1, 2, 3, 3]) == pytest.approx((255 - 122) / 255)
    np.testing.assert_array_equal(
        batch["teacher"].numpy(), [[10, 11], [0, 1]]
    )  # detection rows 5, 0


# --- TrainConfig ----------------------------------------------------------------------------------


def test_train_config_paper_defaults():
    config = TrainConfig()
    assert config.arch == "shallow_narrow" and config.tasks == (
        "arrow",
        "motion",
        "middle",
        "distill",
    )
    assert (
        config.lr == 1e-3
        and config.epochs == 30
        and config.lam == 0.5
        and config.train_fraction == 0.85
    )
    assert config.batch_size == 256
    assert PAPER_BATCH_SIZE == {
        "shallow_narrow": 256,
        "deep_narrow": 128,
        "shallow_wide": 128,
        "deep_wide": 64,
    }
    for arch, size in (("deep_narrow", 128), ("shallow_wide", 128), ("deep_wide", 64)):
        assert TrainConfig(arch=arch).batch_size == size
    assert TrainConfig(arch="deep_wide", batch_size=16).batch_size == 16
    assert TrainConfig(tasks=["middle", "arrow"]).tasks == ("middle", "arrow")


@pytest.mark.parametrize("tasks", [("arrow", "jigsaw"), (), ("T1",)])
def test_train_config_rejects_unknown_tasks(tasks):
    with pytest.raises(ValueError, match="tasks"):
        TrainConfig(tasks=tasks)


@pytest.mark.parametrize("batch_size", [0, 16])
def test_train_config_rejects_unknown_arch(batch_size):
    with pytest.raises(ValueError, match="architecture"):
        TrainConfig(arch="resnet", batch_size=batch_size)


def test_train_config_rejects_no_epochs():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


# --- a real short run on the synthetic tiny preset ------------------------------------------------


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "tiny"
    generate(root, seed=0, preset="tiny")
    dataset = open_dataset("synthetic", root)
    detections = load_precomputed(root / "detections" / "boxes_train.npz", confidence=0.5)
    detections = detections.filter(
        np.arange(len(detections)) % 9 == 0
    )  # keep the run short on a CPU
    cache = build_tube_cache(
        dataset,
        "train",
        detections,
        tmp_path_factory.mktemp("tubes") / "train",
        t=1,
        progress=False,
    )
    teachers = np.random.default_rng(0).random((len(detections), 1080), dtype=np.float32)
    path = tmp_path_factory.mktemp("teachers") / "targets.npy"
    np.save(path, teachers)
    return cache, np.load(path, mmap_mode="r")


CONFIG = dict(arch="shallow_narrow", epochs=2, batch_size=16, device="cpu", seed=0)


@pytest.fixture(scope="module")
def trained(tiny_cache):
    """The full four-task run, instrumented: every row each training / validation pass loaded."""
    cache, teachers = tiny_cache
    loaded: list[tuple[bool, np.ndarray]] = []
    mode = {"train": False}
    real_run_epoch, real_load_batch = train_module.run_epoch, train_module.load_batch

    def run_epoch(model, cache, teachers, rows, config, optimizer, rng, desc):
        mode["train"] = optimizer is not None
        return real_run_epoch(model, cache, teachers, rows, config, optimizer, rng, desc)

    def load_batch(cache, teachers, rows, device):
        loaded.append((mode["train"], np.array(rows)))
        return real_load_batch(cache, teachers, rows, device)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module, "run_epoch", run_epoch)
        mp.setattr(train_module, "load_batch", load_batch)
        result = train(cache, teachers, TrainConfig(**CONFIG))
    return result, loaded


@pytest.mark.slow
def test_short_training_history(tiny_cache, trained):
    cache, _ = tiny_cache
    result, _ = trained
    assert len(result.history) == 2 and [r["epoch"] for r in result.history] == [1, 2]
    for record in result.history:
        for split in ("train", "val"):
            for task in TASKS:
                assert math.isfinite(record[f"{split}_loss_{task}"])
            assert math.isfinite(record[f"{split}_joint_loss"])
            for name in ("acc_arrow", "acc_motion"):
                assert 0.0 <= record[f"{split}_{name}"] <= 1.0
            assert record[f"{split}_mae_middle"] >= 0 and record[f"{split}_mae_distill"] >= 0
        # eq. (5) on the epoch means (the joint loss is linear in the task losses)
        joint = (
            sum(record[f"val_loss_{t}"] for t in ("arrow", "motion", "middle"))
            + 0.5 * record["val_loss_distill"]
        )
        assert record["val_joint_loss"] == pytest.approx(joint, rel=1e-5)
    best = min(result.history, key=lambda r: r["val_joint_loss"])
    assert result.best_epoch == best["epoch"]
    assert result.best_val.joint == pytest.approx(best["val_joint_loss"])
    assert set(result.state_dict) >= {"heads.arrow.fc.weight", "heads.distill.fc.weight"}


@pytest.mark.slow
def test_validation_rows_are_never_trained_on(tiny_cache, trained):
    cache, _ = tiny_cache
    _, loaded = trained
    # the tiny preset's videos have 40 frames: cut = floor(0.85 * 40) = 34, centre frames 0..33
    # train
    assert set(cache.num_frames.values()) == {40}
    train_rows = np.flatnonzero(cache.frame < 34)
    val_rows = np.flatnonzero(cache.frame >= 34)
    assert (
        len(train_rows) > 16 and len(val_rows) > 0
    )  # more than one training batch, a validation set
    trained_on = [rows for is_train, rows in loaded if is_train]
    validated = [rows for is_train, rows in loaded if not is_train]
    assert len(trained_on) == 2 * math.ceil(len(train_rows) / 16)
    seen_train = np.concatenate(trained_on)
    assert not np.isin(seen_train, val_rows).any()
    # each epoch visits every training row exactly once, in a shuffled order
    per_epoch = np.split(seen_train, 2)
    for rows in per_epoch:
        np.testing.assert_array_equal(np.sort(rows), train_rows)
    np.testing.assert_array_equal(np.sort(np.concatenate(validated)), np.sort(np.tile(val_rows, 2)))
    split_train, split_val = cache.train_val_split(0.85)
    np.testing.assert_array_equal(split_train, train_rows)
    np.testing.assert_array_equal(split_val, val_rows)


@pytest.mark.slow
def test_training_is_deterministic_on_cpu(tiny_cache, trained):
    cache, teachers = tiny_cache
    first, _ = trained
    second = train(cache, teachers, TrainConfig(**CONFIG))
    assert first.state_dict.keys() == second.state_dict.keys()
    for name, value in first.state_dict.items():
        assert torch.equal(value, second.state_dict[name]), name
    assert first.best_epoch == second.best_epoch


@pytest.mark.slow
def test_checkpoint_round_trip(tiny_cache, trained, tmp_path):
    cache, _ = tiny_cache
    result, _ = trained
    config = TrainConfig(**CONFIG)
    path = tmp_path / "models" / "ssmtl.pt"
    save_checkpoint(path, result, config, t=cache.t)
    raw = torch.load(path, map_location="cpu", weights_only=True)  # plain types only
    assert raw["t"] == 1 and raw["best_epoch"] == result.best_epoch
    model, loaded_config, t = load_checkpoint(path)
    assert t == 1 and loaded_config == config and not model.training
    for name, value in model.state_dict().items():
        assert torch.equal(value, result.state_dict[name]), name

    reference = train_module.SSMTL(config.arch, config.tasks)
    reference.load_state_dict(result.state_dict)
    reference.eval()
    x = torch.from_numpy(np.array(cache.tubes[:4])).permute(0, 2, 1, 3, 4).float() / 255
    with torch.no_grad():
        torch.testing.assert_close(model.arrow(x), reference.arrow(x), rtol=0, atol=0)
        torch.testing.assert_close(model.motion(x), reference.motion(x), rtol=0, atol=0)
        torch.testing.assert_close(
            model.middle(x[:, :, [0, 2]]), reference.middle(x[:, :, [0, 2]]), rtol=0, atol=0
        )
        torch.testing.assert_close(
            model.distill(x[:, :, 1:2]), reference.distill(x[:, :, 1:2]), rtol=0, atol=0
        )


def test_arrow_only_needs_no_teachers(tiny_cache):
    cache, _ = tiny_cache
    result = train(
        cache,
        None,
        TrainConfig(tasks=("arrow",), arch="shallow_narrow", epochs=1, batch_size=16, device="cpu"),
    )
    assert len(result.history) == 1
    record = result.history[0]
    assert math.isfinite(record["train_loss_arrow"]) and 0.0 <= record["val_acc_arrow"] <= 1.0
    assert not any("distill" in key or "motion" in key for key in record)
    assert not any(
        name.startswith(("heads.distill", "heads.motion", "heads.middle"))
        for name in result.state_dict
    )


def test_distill_without_teachers_is_an_error(tiny_cache):
    cache, _ = tiny_cache
    with pytest.raises(ValueError, match="teacher"):
        train(cache, None, TrainConfig(**CONFIG))


@pytest.mark.slow
def test_resumed_run_equals_uninterrupted_run(tiny_cache, tmp_path):
    """A run stopped after epoch 1 and started again with its checkpoint folder ends with the
    same weights, history and best epoch as one that never stopped; every epoch's weights load."""
    cache, teachers = tiny_cache
    whole = train(cache, teachers, TrainConfig(**CONFIG), checkpoint_dir=tmp_path / "whole")
    train(cache, teachers, TrainConfig(**{**CONFIG, "epochs": 1}), checkpoint_dir=tmp_path / "cut")
    resumed = train(cache, teachers, TrainConfig(**CONFIG), checkpoint_dir=tmp_path / "cut")
    assert [r["epoch"] for r in resumed.history] == [1, 2]
    assert resumed.best_epoch == whole.best_epoch
    for name, value in whole.state_dict.items():
        assert torch.equal(value, resumed.state_dict[name]), name

    def figures(history):  # everything but the timings
        return [{k: v for k, v in r.items() if not k.endswith("_per_s")} for r in history]

    assert figures(resumed.history) == figures(whole.history)
    for epoch in (1, 2):
        model, config, t = load_checkpoint(tmp_path / "cut" / f"epoch_{epoch:03d}.pt")
        assert t == cache.t and config.arch == CONFIG["arch"] and not model.training


def test_resume_refuses_other_settings(tiny_cache, tmp_path):
    cache, teachers = tiny_cache
    config = TrainConfig(**{**CONFIG, "epochs": 1, "tasks": ("middle",)})
    train(cache, None, config, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="other settings.*lr"):
        train(cache, None, TrainConfig(**{**asdict(config), "lr": 0.01}), checkpoint_dir=tmp_path)


def test_precision_auto_is_bf16_where_the_device_computes_it_natively(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(train_module, "native_bf16", lambda device: False)  # e.g. an AVX2 CPU
    assert not train_module.use_bf16("auto", cpu) and not train_module.use_bf16("auto", cuda)
    assert train_module.use_bf16("bf16", cpu) and not train_module.use_bf16("fp32", cpu)
    monkeypatch.setattr(train_module, "native_bf16", lambda device: True)  # AVX-512 BF16, CUDA
    monkeypatch.setattr(train_module, "cpu_bf16_conv3d_agrees", lambda: True)
    assert train_module.use_bf16("auto", cpu) and train_module.use_bf16("auto", cuda)
    assert not train_module.use_bf16("fp32", cpu) and not train_module.use_bf16("fp32", cuda)
    # a CPU whose bf16 3D convolutions disagree with fp32 (oneDNN's AMX kernels): fp32, unless
    # bf16 is asked for by name
    monkeypatch.setattr(train_module, "cpu_bf16_conv3d_agrees", lambda: False)
    assert not train_module.use_bf16("auto", cpu) and train_module.use_bf16("auto", cuda)
    assert train_module.use_bf16("bf16", cpu)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp16")


def test_old_checkpoint_config_with_bf16_flag_loads():
    values = {**asdict(TrainConfig(**CONFIG)), "bf16": True}
    del values["precision"]
    assert train_module.config_from_dict(values).precision == "auto"


def test_checkpoint_with_shared_batch_norm_statistics_is_a_named_error(tmp_path):
    """Weights written before the shared CNN kept batch norm statistics per task do not load."""
    state = train_module.SSMTL("shallow_narrow").state_dict()
    legacy = {}
    for name, value in state.items():
        for stat in ("running_mean", "running_var"):
            if f".bn.{stat}_" in name:
                name = f"{name.split(f'.bn.{stat}_')[0]}.bn.{stat}"
        legacy[name] = value
    path = tmp_path / "ssmtl.pt"
    torch.save({"state_dict": legacy, "config": asdict(TrainConfig(**CONFIG)), "t": 1}, path)
    with pytest.raises(InputError, match="do not fit this model.*train again") as error:
        load_checkpoint(path)
    assert str(path) in str(error.value)


def test_batches_from_a_device_copy_equal_those_from_the_memory_maps(tiny_cache):
    """The GPU path (the cache copied into device memory, a gather per batch) feeds the same
    numbers as the memory maps; the copy is made with torch tensors here, on the CPU."""
    from bench.train_data import DeviceCache

    cache, teachers = tiny_cache
    copy = DeviceCache(
        tubes=torch.from_numpy(np.array(cache.tubes)),
        intermittent=torch.from_numpy(np.array(cache.intermittent)),
        index={"detection_row": cache.index["detection_row"]},
    )
    rows = np.array([5, 1, 3])
    cpu = torch.device("cpu")
    from_maps = load_batch(cache, teachers, rows, cpu)
    from_copy = load_batch(copy, torch.from_numpy(np.array(teachers)), rows, cpu)
    assert from_maps.keys() == from_copy.keys()
    for key in from_maps:
        assert torch.equal(from_maps[key], from_copy[key]), key


def test_time_budget_stops_between_epochs_and_resumes(tiny_cache, tmp_path):
    """A budget shorter than an epoch ends the run after its first epoch (never before one);
    started again without a budget, it resumes and ends like a run that never stopped."""
    cache, teachers = tiny_cache
    config = TrainConfig(**{**CONFIG, "epochs": 3})
    cut = train(cache, teachers, config, checkpoint_dir=tmp_path / "cut", time_budget_s=1e-6)
    assert [r["epoch"] for r in cut.history] == [1]
    assert sorted(p.name for p in (tmp_path / "cut").glob("epoch_*.pt")) == ["epoch_001.pt"]
    resumed = train(cache, teachers, config, checkpoint_dir=tmp_path / "cut")
    whole = train(cache, teachers, config, checkpoint_dir=tmp_path / "whole")
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    for name, value in whole.state_dict.items():
        assert torch.equal(value, resumed.state_dict[name]), name


def test_resume_reads_a_run_saved_before_a_knob_existed(tiny_cache, tmp_path):
    """resume.pt written before ``deterministic`` existed resumes with its default."""
    cache, teachers = tiny_cache
    config = TrainConfig(**{**CONFIG, "epochs": 1, "tasks": ("middle",)})
    train(cache, None, config, checkpoint_dir=tmp_path)
    path = tmp_path / "resume.pt"
    data = torch.load(path, weights_only=True)
    del data["config"]["deterministic"]
    torch.save(data, path)
    result = train(
        cache, None, TrainConfig(**{**asdict(config), "epochs": 2}), checkpoint_dir=tmp_path
    )
    assert [r["epoch"] for r in result.history] == [1, 2]
    with pytest.raises(ValueError, match="other settings.*deterministic"):
        changed = {**asdict(config), "epochs": 3, "deterministic": False}
        train(cache, None, TrainConfig(**changed), checkpoint_dir=tmp_path)
