"""``ssmtl bench model`` knobs (bench.suite.bench_model): the grid and the layouts, never timed."""

from __future__ import annotations

import torch

from bench.model import SSMTL
from bench.suite.bench_model import benchmark_model, contiguous_encoder, knob_grid


def test_knob_grid_is_the_product():
    grid = list(knob_grid(["fp32", "bf16"], [True, False], [False], [8, 16], [1]))
    assert len(grid) == 8 and {g["batch_size"] for g in grid} == {8, 16}
    assert grid[0] == {
        "precision": "fp32", "channels_last": True, "compile": False, "batch_size": 8,
        "threads": 1,
    }  # fmt: skip


def testcontiguous_encoder_computes_the_same():
    torch.manual_seed(0)
    model = SSMTL("shallow_narrow").eval()
    x = torch.rand(2, 3, 7, 64, 64)
    with torch.no_grad():
        expected = model.encoder(x, "arrow")
        contiguous_encoder(model)
        got = model.encoder(x, "arrow")
    assert model.encoder.layers[0].conv.weight.is_contiguous()  # the default layout
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_benchmark_model_reports_the_knobs():
    threads = torch.get_num_threads()
    try:
        report = benchmark_model(
            "shallow_narrow", "cpu", 2, 1, warmup=1, channels_last=False, threads=1
        )
    finally:
        torch.set_num_threads(threads)
    assert (report["precision"], report["channels_last"], report["compile"]) == (
        "fp32", False, False,
    )  # fmt: skip
    assert report["threads"] == 1 and report["train_samples_per_s"] > 0
    assert report["score_objects_per_s"] > 0 and report["train_samples_warmup_s"] >= 0
