"""``ssmtl bench compare`` (bench.suite.bench_compare): structure and correctness on the tiny
synthetic preset. Never timed: the figures themselves are not checked."""

from __future__ import annotations

import json
import mmap

import numpy as np
import pytest
import torch

from bench.cli import main as ssmtl
from bench.data import open_dataset
from bench.data.synth import generate
from bench.suite.bench_compare import (
    Side,
    best_of,
    format_report,
    prepare_inputs,
    run_compare,
    scaled,
    scaling,
)
from bench.suite.bench_memory import PeakRSS
from bench.suite.bench_reference import plain_roi_tubes, plain_tubes
from bench.suite.bench_tubes import load_detections
from bench.train import use_bf16


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare") / "s"
    generate(root, seed=0, preset="tiny")
    return root


@pytest.fixture(scope="module")
def inputs(tiny, tmp_path_factory):
    dataset = open_dataset("synthetic", tiny)
    detections, _ = load_detections(tiny / "detections" / "boxes_test.npz", "synthetic", None)
    work = tmp_path_factory.mktemp("work")
    return prepare_inputs(dataset, detections, 8, work, train_batch=2, train_steps=1, ref_batch=4)


def test_peak_rss_counts_the_block_alone():
    # fresh pages from the kernel: malloc (numpy's allocator) may hand out a free chunk that an
    # earlier test left resident in the heap, which rightly costs the block no new memory
    with PeakRSS() as peak:
        block = mmap.mmap(-1, 64 * 2**20, flags=mmap.MAP_PRIVATE)  # anonymous, like malloc
        np.frombuffer(block, dtype=np.uint8)[:] = 1  # every page touched, no copy
    assert 56 <= peak.mb <= 96, (peak.method, peak.readings_kb, _proc_status())
    block.close()
    with PeakRSS() as nothing:
        pass
    assert nothing.mb < 8


def _proc_status() -> str:
    try:
        with open("/proc/self/status") as status:
            return status.read()
    except OSError as error:
        return str(error)


def _scripted_status(monkeypatch, readings: list[dict[str, int]]) -> None:
    """``/proc/self/status`` as a script: the block's entry reads the first dict, its exit the
    second (kB); the high-water reset succeeds."""
    from bench.suite import bench_memory

    script = iter(readings)
    monkeypatch.setattr(bench_memory, "_status", lambda: next(script))
    monkeypatch.setattr(bench_memory, "_reset_high_water", lambda: True)


def test_peak_rss_counts_a_peak_freed_inside_the_block(monkeypatch):
    start = {"VmRSS": 500_000, "VmHWM": 500_000, "RssAnon": 200_000}
    end = {"VmRSS": 500_000, "VmHWM": 532_768, "RssAnon": 200_000}  # 32 MiB came and went
    _scripted_status(monkeypatch, [start, end])
    with PeakRSS() as peak:
        pass
    assert peak.method == "hwm" and peak.mb == 32


def test_peak_rss_is_not_hidden_by_file_pages_the_kernel_dropped(monkeypatch):
    start = {"VmRSS": 500_000, "VmHWM": 500_000, "RssAnon": 200_000}
    # 48 MiB of file pages reclaimed during the block while it allocated 32 MiB and kept them
    end = {"VmRSS": 483_616, "VmHWM": 500_000, "RssAnon": 232_768}
    _scripted_status(monkeypatch, [start, end])
    with PeakRSS() as peak:
        pass
    assert peak.mb == 32


def test_peak_rss_counts_a_block_whose_older_pages_were_swapped_out(monkeypatch):
    # at a memory limit with swap: the block touched 32 MiB, the kernel swapped 32 MiB of the
    # process's older anonymous pages out, so the resident set (and its high-water mark) stayed put
    start = {"VmRSS": 500_000, "VmHWM": 500_000, "RssAnon": 200_000, "VmSwap": 0}
    end = {"VmRSS": 500_000, "VmHWM": 500_000, "RssAnon": 200_000, "VmSwap": 32_768}
    _scripted_status(monkeypatch, [start, end])
    with PeakRSS() as peak:
        pass
    assert peak.mb == 32


def test_scaled_copies_every_box_shifted(inputs):
    table = inputs.table
    double = scaled(table, 2)
    assert len(double) == 2 * len(table) and scaled(table, 1) is table
    shifted = double.boxes[~np.isin(double.boxes[:, 0], table.boxes[:, 0])]
    np.testing.assert_allclose(np.sort(shifted[:, 0]), np.sort(table.boxes[:, 0] + 0.5))
    assert (np.diff(double.frame) >= 0).all()  # still ordered by frame


def test_plain_tubes_match_the_cache_roughly(inputs, tmp_path):
    from bench.tubes import build_tube_cache

    table = inputs.table
    n, seconds, nbytes = plain_tubes(inputs.video, table.boxes, table.frame, inputs.t)
    assert n == len(table) and seconds > 0 and nbytes == n * 7 * 3 * 64 * 64
    cache = build_tube_cache(
        inputs.dataset, "test", table, tmp_path / "c", inputs.t, intermittent=False, progress=False
    )
    assert len(cache) == n


def test_the_roi_align_reference_cuts_the_same_tubes_as_the_cache(inputs, tmp_path):
    from bench.tubes import build_tube_cache

    table = scaled(inputs.table, 2)  # half-pixel boxes: the sampling, not only integer crops
    n, seconds, tubes = plain_roi_tubes(inputs.video, table.boxes, table.frame, inputs.t)
    build_tube_cache(
        inputs.dataset, "test", table, tmp_path / "c", inputs.t, intermittent=False, progress=False
    )
    assert n == len(table) and seconds > 0
    np.testing.assert_array_equal(np.load(tmp_path / "c" / "tubes.npy"), tubes)


def test_best_of_keeps_each_sides_fastest_run_and_largest_peak():
    script = iter(
        [
            (Side(10, 2.0, 5.0), Side(10, 1.0, 3.0), {"batch": 4, "same": True,
                                                       "resize": Side(10, 0.5, 1.0)}),
            (Side(10, 1.5, 7.0), Side(10, 3.0, float("nan")), {"batch": 9, "same": False,
                                                                "resize": Side(10, 0.4, 2.0)}),
        ]
    )  # fmt: skip
    seen = []

    def run(repeat: int):
        seen.append(repeat)
        return next(script)

    mine, theirs, extra = best_of(run, 2)
    assert seen == [0, 1]
    assert (mine.seconds, mine.peak_mb) == (1.5, 7.0) and (theirs.seconds, theirs.peak_mb) == (1, 3)
    reference_peaks = extra.pop("reference_peak_mb_each")
    assert reference_peaks[0] == 3.0 and np.isnan(reference_peaks[1])
    assert extra == {
        "batch": 4, "same": False, "resize": Side(10, 0.4, 2.0), "repeats": 2,
        "ours_seconds_each": [2.0, 1.5], "reference_seconds_each": [1.0, 3.0],
        "ours_peak_mb_each": [5.0, 7.0],
    }  # fmt: skip


@pytest.mark.slow
def test_run_compare_rows_and_scaling(inputs):
    seen = []
    report = run_compare(inputs, ["tubes", "score", "train"], [1, 2], on_row=seen.append, repeats=2)
    rows = report["rows"]
    assert [(r["stage"], r["scale"]) for r in rows] == [
        ("tubes", 1), ("train", 1), ("score", 1), ("tubes", 2), ("train", 2), ("score", 2),
    ]  # fmt: skip
    assert seen == rows
    by = {(r["stage"], r["scale"]): r for r in rows}
    n = len(inputs.table)
    assert by["tubes", 1]["items"] == n and by["tubes", 2]["items"] == 2 * n
    assert by["score", 2]["items"] == 2 * n and by["train", 2]["items"] == 2 * 2 * 1
    # training runs at precision auto: bf16 where the CPU computes it natively
    train_dtype = "bf16" if use_bf16("auto", torch.device("cpu")) else "fp32"
    for row in rows:
        assert row["ours_per_s"] > 0 and row["reference_per_s"] > 0
        assert row["dtype"] == (train_dtype if row["stage"] == "train" else "fp32")
        assert row["ratio"] == pytest.approx(row["ours_per_s"] / row["reference_per_s"], rel=0.01)
        assert row["ours_peak_mb"] >= 0
        assert row["repeats"] == 2 and len(row["ours_seconds_each"]) == 2
        assert row["ours_seconds"] == pytest.approx(min(row["ours_seconds_each"]), abs=1e-3)
    assert by["tubes", 2]["same_output"] is True and by["tubes", 2]["resize_per_s"] > 0
    for stage in ("train", "score"):  # the plain loop in the model's layout, beside the reference
        row = by[stage, 1]
        assert row["same_layout_per_s"] > 0
        assert row["same_layout_ratio"] == pytest.approx(
            row["ours_per_s"] / row["same_layout_per_s"], rel=0.01
        )
    assert set(report["scaling"]) == {"tubes", "score", "train"}
    assert report["scaling"]["tubes"]["items"] == [n, 2 * n]
    env = report["environment"]
    assert env["device"] == "cpu" and env["threads"] >= 1 and env["native_bf16"] in (True, False)
    text = format_report(report)
    assert "ratio" in text and "scaling tubes" in text
    json.dumps(report)  # plain types only
    assert not list(inputs.work.glob("tubes_x*"))  # scratch caches removed


def test_scaling_relative_to_the_smallest_scale():
    rows = [
        {"stage": "a", "scale": 1, "items": 10, "ours_seconds": 1.0, "ours_peak_mb": 5.0},
        {"stage": "a", "scale": 4, "items": 40, "ours_seconds": 4.4, "ours_peak_mb": 6.0},
        {"stage": "b", "scale": 1, "items": 3, "ours_seconds": 1.0, "ours_peak_mb": 1.0},
    ]
    out = scaling(rows)
    assert out == {
        "a": {"scales": [1, 4], "items": [10, 40], "cost_ratio": [1.0, 1.1],
              "memory_growth_mb": 1.0}
    }  # fmt: skip
    # with every run's peaks: the growth between the scales' last (warm) runs too
    rows[0]["ours_peak_mb_each"], rows[1]["ours_peak_mb_each"] = [5.0, 2.0], [6.0, 2.5]
    assert scaling(rows)["a"]["warm_memory_growth_mb"] == 0.5


def test_compare_cli_writes_the_json(tiny, tmp_path):
    out = tmp_path / "bench.json"
    args = ["bench", "compare", "synthetic", "--root", str(tiny), "--frames", "6"]
    assert ssmtl([*args, "--stages", "tubes", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["stage"] for r in data["rows"]] == ["tubes"]
    assert data["inputs"]["frames"] == 6 and data["inputs"]["detections_file"].endswith(".npz")
    assert ssmtl([*args, "--stages", "nope", "--out", str(out)]) == 2
    with pytest.raises(SystemExit):
        ssmtl([*args, "--scale", "0"])


def test_performance_table_from_the_json(tmp_path):
    from bench.report.performance import performance_table, scaling_table

    rows = [
        {"stage": "score", "scale": s, "unit": "objects", "items": 10 * s, "ours_per_s": 5.0,
         "reference_per_s": 4.0, "ratio": 1.25, "ours_seconds": 2.0 * s, "reference_seconds": 1,
         "ours_peak_mb": 3.0, "reference_peak_mb": None, "dtype": "fp32"}
        for s in (1, 2)
    ]  # fmt: skip
    report = {"environment": {"device_name": "cpu x", "threads": 2}, "rows": rows}
    report["scaling"] = scaling(rows)
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(report))
    table = performance_table(path)
    assert list(table["stage"]) == ["score", "score"] and list(table["ratio"]) == [1.25, 1.25]
    assert table["reference"][0] == "plain forward of the four heads, PyTorch's default layout"
    assert table["device"][0] == "cpu x" and table["threads"][0] == 2
    assert list(table["runs"]) == ["one run"] * 2 and list(table["also measured"]) == [""] * 2
    rows[0] |= {"repeats": 3, "resize_per_s": 4000.0, "resize_ratio": 0.5}
    table = performance_table(report)
    assert table["runs"][0] == "best of 3"
    assert (
        table["also measured"][0] == "cv2.resize loop (other sampling): 4,000/s, ours 0.50x of it"
    )
    rows[1] |= {"same_layout_per_s": 4.5, "same_layout_ratio": 1.11}
    assert performance_table(report)["also measured"][1] == (
        "the plain loop in the model's channels-last layout: 4/s, ours 1.11x of it"
    )
    assert list(scaling_table(report)["cost per item vs smallest"]) == [1.0, 1.0]


def test_report_scaling_table_has_a_row_per_dataset_stage_and_scale(tmp_path):
    from types import SimpleNamespace

    from bench.report.performance import benchmark_scaling_table

    metrics = SimpleNamespace(root=tmp_path)
    assert list(benchmark_scaling_table(metrics).columns)[:3] == ["dataset", "stage", "scale"]
    rows = [
        {"stage": "score", "scale": s, "items": 10 * s, "ours_seconds": 2.0 * s,
         "ours_peak_mb": peak, "ours_peak_mb_each": [peak, warm]}
        for s, peak, warm in ((1, 300.0, 150.0), (4, 500.0, 140.0))
    ]  # fmt: skip
    (tmp_path / "ped2").mkdir()
    (tmp_path / "ped2" / "bench.json").write_text(json.dumps({"scaling": scaling(rows)}))
    table = benchmark_scaling_table(metrics)
    assert list(table["dataset"]) == ["ped2", "ped2"] and list(table["scale"]) == [1, 4]
    assert list(table["memory growth MB (largest vs smallest)"]) == [200.0, 200.0]
    assert list(table["warm-run memory growth MB"]) == [-10.0, -10.0]


def test_a_benchmark_on_a_loaded_machine_is_flagged():
    from bench.report.performance import load_flag

    assert load_flag({}) == "load not recorded"
    assert load_flag({"load_average": [2.9, 3.1, 2.2], "cpus": 2}) == "load not recorded"
    # recorded as the CPUs other processes used: the benchmark's own threads do not count
    assert load_flag({"other_cpus": 0.1, "load_average": [2.0, 2.0, 2.0], "cpus": 2}) == "none"
    assert load_flag({"other_cpus": 1.2, "cpus": 2}).startswith("⚠ loaded machine")


def test_other_load_is_the_machine_minus_this_process(monkeypatch):
    from bench.suite import bench_load

    assert bench_load.machine_busy_seconds() > 0 and bench_load.own_busy_seconds() > 0
    clock = iter([100.0, 104.0])  # 4 s of wall time
    machine = iter([1000.0, 1007.0])  # the machine was busy 7 CPU-seconds ...
    own = iter([50.0, 53.0])  # ... 3 of them this process's
    monkeypatch.setattr(bench_load, "wall_seconds", lambda: next(clock))
    monkeypatch.setattr(bench_load, "machine_busy_seconds", lambda: next(machine))
    monkeypatch.setattr(bench_load, "own_busy_seconds", lambda: next(own))
    with bench_load.OtherLoad() as load:
        pass
    assert load.cpus == 1.0


@pytest.mark.slow
def test_imagenet_stage_times_the_reference_at_its_fastest_batch(tiny, tmp_path):
    from dataclasses import replace

    from conftest import shared_path

    from bench.suite.bench_stages import stage_imagenet

    weights = shared_path("models", "mobilenet_v2_imagenet.torchscript.pt")
    dataset = open_dataset("synthetic", tiny)
    detections, _ = load_detections(tiny / "detections" / "boxes_test.npz", "synthetic", None)
    few = prepare_inputs(dataset, detections, 2, tmp_path, ref_batch=8)
    few = replace(few, imagenet=str(weights))
    state: dict = {}
    mine, theirs, extra = stage_imagenet(few, 1, state)
    speeds = extra["reference_crops_per_s_by_batch"]
    assert sorted(speeds) == [8, 16, 32, 64]
    assert extra["ref_batch"] == max(speeds, key=speeds.get) == state["imagenet_ref_batch"]
    assert extra["batch"] == 16 and extra["top1_agreement"] == 1.0
    assert extra["max_abs_diff"] < 1e-3 and mine.items == theirs.items == len(few.table)
    _, _, again = stage_imagenet(few, 2, state)  # larger scales reuse the batch found at 1x
    assert (
        "reference_crops_per_s_by_batch" not in again and again["ref_batch"] == extra["ref_batch"]
    )


@pytest.mark.slow
def test_train_stage_times_bf16_beside_fp32(inputs):
    from dataclasses import replace

    from bench.suite.bench_stages import stage_train

    mine, theirs, extra = stage_train(replace(inputs, bf16=True), 1, {})
    default = "bf16" if use_bf16("auto", torch.device("cpu")) else "fp32"
    assert extra["dtype"] == default
    timed_as_default = "samples_per_s" if default == "bf16" else "fp32_samples_per_s"
    assert extra["bf16"][timed_as_default] == pytest.approx(mine.per_s)
    assert extra["bf16"]["samples_per_s"] > 0 and extra["bf16"]["fp32_samples_per_s"] > 0
    _, _, at_2x = stage_train(replace(inputs, bf16=True), 2, {})
    assert "bf16" not in at_2x  # measured once, at 1x


def test_the_plain_network_is_in_pytorchs_default_layout():
    """The training and scoring references run Table 1's network as a plain implementation has
    it; the model's own channels-last layout is timed beside them."""
    from bench.suite.bench_reference import plain_model

    plain, own = plain_model("shallow_narrow"), plain_model("shallow_narrow", channels_last=True)
    assert plain.encoder.layers[0].conv.weight.is_contiguous()
    weight = own.encoder.layers[0].conv.weight
    assert weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert not weight.is_contiguous()
