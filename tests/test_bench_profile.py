"""``ssmtl bench profile`` (bench.suite.bench_profile): categories, FLOPs and bytes checked against
hand counts, the bounds' arithmetic and the report's table; never timed."""

from __future__ import annotations

import json

import pytest
import torch

from bench.cli import main
from bench.report.load import MetricsDir
from bench.report.performance import PROFILE_COLUMNS, training_profile_table
from bench.suite.bench_profile import (
    CATEGORIES,
    MINIMUM_PASSES,
    activation_bytes,
    category,
    format_profile,
    step_flops,
    training_profile,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("aten::convolution_backward", "convolution backward"),
        ("aten::mkldnn_convolution", "convolution forward"),
        (
            "autograd::engine::evaluate_function: ConvolutionBackward0",
            "autograd engine and optimizer",
        ),
        ("Optimizer.step#Adam.step", "autograd engine and optimizer"),
        ("aten::native_batch_norm_backward", "batch norm"),
        ("aten::threshold_backward", "ReLU"),
        ("aten::max_pool3d_with_indices", "max pooling"),
        ("aten::addmm", "linear layers"),
        ("aten::fill_", "zero fills"),
        ("aten::sigmoid", "other"),
    ],
)
def test_profiler_events_fall_in_their_category(name, expected):
    assert category(name) == expected


def test_convolution_flops_match_the_hand_count():
    conv = torch.nn.Conv3d(3, 16, kernel_size=3, padding=1)
    x = torch.rand(2, 3, 5, 8, 8)

    def step() -> None:
        conv(x).sum().backward()

    flops = step_flops(step)
    # a multiply-add per input channel and kernel tap for every output value; the backward
    # computes the weight gradient only (the input needs none): as many again
    forward = 2 * (2 * 16 * 5 * 8 * 8) * 3 * 27
    assert flops["convolution forward"] == forward
    assert flops["convolution backward"] == forward


def test_activation_bytes_count_batch_norm_and_relu_outputs():
    from bench.model import TaskBatchNorm3d

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bn, self.relu = TaskBatchNorm3d(4, ("arrow",)), torch.nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.relu(self.bn(x, "arrow"))

    block, x = Block(), torch.rand(2, 4, 3, 5, 5)
    moved = activation_bytes(block, lambda: block(x))
    assert moved == {"batch norm": x.numel() * 4, "ReLU": x.numel() * 4}
    assert set(MINIMUM_PASSES) <= {label for label, _, _ in CATEGORIES}
    assert not block.bn._forward_hooks  # the hooks are removed


def test_training_profile_adds_up(monkeypatch):
    from bench.suite import bench_profile

    ceilings = {"matmul_size": 8, "matmul_gflop_per_s": 100.0, "copy_mb": 1, "copy_gb_per_s": 10.0}
    monkeypatch.setattr(bench_profile, "machine_ceilings", lambda: ceilings)
    profile = training_profile(
        "shallow_narrow", batch_size=2, t=1, steps=1, target_samples_per_s=1e6
    )
    rows = {row["category"]: row for row in profile["categories"]}
    assert sum(row["share"] for row in rows.values()) == pytest.approx(1.0)
    assert sum(row["ms"] for row in rows.values()) == pytest.approx(profile["step_ms"])
    conv = rows["convolution forward"]
    assert conv["gflop"] > 0 and conv["matmul_share"] == pytest.approx(conv["gflop_per_s"] / 100)
    assert rows["batch norm"]["copy_share"] == pytest.approx(rows["batch norm"]["gb_per_s"] / 10)
    bounds = profile["bounds"]
    compute_s = bounds["compute_ms"] / 1e3
    assert bounds["samples_per_s_if_rest_were_free"] == pytest.approx(2 / compute_s)
    assert bounds["samples_per_s_if_rest_were_free"] > profile["samples_per_s"]
    assert bounds["rest_speedup_needed"] is None  # a million samples/s: the compute alone is over
    assert "out of reach" in format_profile(profile)


def test_the_report_table_and_the_command(tmp_path):
    out = tmp_path / "profile" / "training.json"
    argv = ["bench", "profile", "--batch-size", "2", "--t", "1", "--steps", "1", "--target",
            "0.001", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    profile = json.loads(out.read_text())
    assert profile["environment"]["device"] == "cpu" and profile["batch_size"] == 2
    assert profile["bounds"]["rest_speedup_needed"] < 1  # a target any step meets
    table = training_profile_table(MetricsDir(tmp_path))
    assert list(table.columns) == PROFILE_COLUMNS
    assert len(table) == len(CATEGORIES) + 5
    assert table.iloc[len(CATEGORIES)]["category"] == "whole step"
    assert training_profile_table(MetricsDir(tmp_path / "none")).empty
