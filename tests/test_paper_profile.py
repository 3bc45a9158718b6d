"""The GPU paper profile (experiments/ped2_gpu): its settings are the paper's (section 4.2) and
one training step of it runs on the CPU (fp32 there: bf16 only where native)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from bench import paper
from bench.model import SSMTL
from bench.tasks import joint_loss, task_losses
from bench.train import TrainConfig, use_bf16

PARAMS = Path("experiments/ped2_gpu/params.yaml")


def profile_config() -> TrainConfig:
    train = yaml.safe_load(PARAMS.read_text())["train"]
    return TrainConfig(**{**train, "tasks": tuple(train["tasks"].split(","))})


def test_the_profile_is_the_papers():
    config = profile_config()
    assert config.arch == paper.FRAME_LEVEL_ARCH == "deep_wide"
    assert config.epochs == paper.EPOCHS and config.lr == paper.LEARNING_RATE
    assert config.batch_size == paper.BATCH_SIZE["deep_wide"]
    assert config.lam == paper.LAMBDA["ped2"] and config.tasks == paper.TASKS


@pytest.mark.slow
def test_one_training_step_on_cpu():
    config = profile_config()
    torch.manual_seed(0)
    model = SSMTL(config.arch, config.tasks)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    n = 2  # the paper's 64 would take a minute on 2 cores; the step is the same code
    batch = {
        "regular": torch.rand(n, 3, 7, 64, 64),
        "intermittent": torch.rand(n, 3, 7, 64, 64),
        "teacher": torch.rand(n, paper.N_DISTILL),
    }
    autocast = use_bf16(config.precision, torch.device("cpu"))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss = joint_loss(task_losses(model, batch, config.tasks)[0], config.lam)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("dvc_file", ["experiments/ped2_gpu/dvc.yaml", "experiments/ped2/dvc.yaml"])
def test_device_commands_are_the_stages_own(dvc_file):
    """experiments/ped2_gpu/render.py (a lent GPU machine has no DVC) renders every stage's
    command exactly as DVC does."""
    import importlib.util

    pytest.importorskip("dvc")
    from dvc.repo import Repo

    spec = importlib.util.spec_from_file_location("render", "experiments/ped2_gpu/render.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    stages = Repo(".").stage.collect(dvc_file)
    assert len(stages) > 4
    for stage in stages:
        name = stage.addressing.split(":", 1)[1]
        assert render.stage_command(Path(dvc_file), name, []) == stage.cmd, name
