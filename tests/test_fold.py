"""Batch norm folded into the convolutions for scoring (bench.score.fold): the same outputs as the
model it came from, per task, and that model left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench.model import SSMTL, EncoderConv, TaskBatchNorm3d
from bench.paper import TASKS
from bench.score import batch_scores, fold_batch_norm, object_scores
from bench.score.fold import FoldedEncoderConv


def trained_looking(arch: str, tasks: tuple[str, ...] = TASKS, seed: int = 0) -> SSMTL:
    """A model whose batch norms are far from the identity (as after training): per-task running
    statistics, scales and shifts drawn at random, different for every task."""
    torch.manual_seed(seed)
    model = SSMTL(arch, tasks)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, TaskBatchNorm3d):
                for task in module.tasks:
                    getattr(module, f"running_mean_{task}").uniform_(-0.5, 0.5)
                    getattr(module, f"running_var_{task}").uniform_(0.2, 3.0)
            if isinstance(module, (TaskBatchNorm3d, nn.BatchNorm2d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.2, 3.0)
    return model.eval()


def task_inputs(n: int, t: int = 3) -> dict[str, torch.Tensor]:
    x = torch.rand(n, 3, 2 * t + 1, 64, 64, generator=torch.Generator().manual_seed(1))
    context = torch.cat([x[:, :, :t], x[:, :, t + 1 :]], dim=2)
    return {"arrow": x, "motion": x, "middle": context, "distill": x[:, :, t : t + 1]}


@pytest.mark.parametrize("arch", ["shallow_narrow", "deep_narrow"])
def test_folded_model_gives_every_task_the_same_outputs(arch):
    model = trained_looking(arch)
    folded = fold_batch_norm(model)
    with torch.no_grad():
        for task, x in task_inputs(4).items():
            # the tasks' statistics differ, so a fold that mixed them up would be far off
            torch.testing.assert_close(folded(x, task), model(x, task), rtol=1e-4, atol=1e-5)


def test_folded_model_holds_no_batch_norm_and_leaves_its_source_unchanged():
    model = trained_looking("shallow_narrow")
    before = {name: value.clone() for name, value in model.state_dict().items()}
    folded = fold_batch_norm(model)
    kinds = [type(m) for m in folded.modules()]
    assert nn.BatchNorm2d not in kinds and TaskBatchNorm3d not in kinds and EncoderConv not in kinds
    assert kinds.count(FoldedEncoderConv) == sum(type(m) is EncoderConv for m in model.modules())
    assert not any(p.requires_grad for p in folded.parameters())
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert all(p.requires_grad for p in model.parameters())
    assert fold_batch_norm(folded) is folded  # nothing left to fold


def test_folded_model_keeps_the_two_frame_guard_under_bf16_autocast():
    """Two-frame inputs (T3's context at t = 1) run their convolutions in fp32 under CPU
    autocast in the folded model too (bench.model.BF16_UNSAFE_DEPTH)."""
    model = trained_looking("shallow_narrow")
    folded = fold_batch_norm(model)
    context = task_inputs(2, t=1)["middle"]
    assert context.shape[2] == 2
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        layer = folded.encoder.layers[0]
        out = layer(context.contiguous(memory_format=torch.channels_last_3d), "middle")
    assert out.dtype == torch.float32


class TubeRows:
    """The two attributes of a tube cache that scoring reads."""

    def __init__(self, tubes: np.ndarray):
        self.tubes = tubes
        self.index = {"detection_row": np.arange(len(tubes), dtype=np.int64)}

    def __len__(self) -> int:
        return len(self.tubes)


def test_object_scores_equal_the_unfolded_model_within_float_rounding():
    model = trained_looking("shallow_narrow")
    rng = np.random.default_rng(0)
    tubes = rng.integers(0, 256, (11, 7, 3, 64, 64), dtype=np.uint8)
    targets = rng.random((11, 1080), dtype=np.float32)
    folded = object_scores(model, TubeRows(tubes), targets, batch_size=4, progress=False)
    x = torch.from_numpy(tubes).permute(0, 2, 1, 3, 4).float() / 255.0
    plain = batch_scores(model, x, targets)
    for task in TASKS:
        np.testing.assert_allclose(folded[task], plain[task], rtol=1e-4, atol=1e-6)
    # the heads' scores differ from object to object, so equality above is not vacuous
    assert all(np.ptp(plain[task]) > 1e-4 for task in TASKS)
