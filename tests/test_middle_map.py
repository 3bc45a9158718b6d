"""Issue 16's map-resolution suspect (bench.suite.middle_map, ``ssmtl middle-map``): the filter
keeps the anomaly map's size in frame pixels, the middle_mean and eq6 rows are the pipeline's
own scores, and the pixel maximum is a maximum of the object's filtered error map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from bench.detection import load_precomputed
from bench.metrics.evaluate import evaluate
from bench.score import MapConfig, frame_sizes, object_scores, video_frame_scores
from bench.suite.checkpoint_inputs import CheckpointInputs
from bench.suite.middle_map import (
    crowd_correlation,
    filter_sizes,
    middle_map_experiment,
    middle_peaks,
)
from bench.tasks import middle_error, tubes_to_float
from bench.train import load_checkpoint
from bench.tubes import TubeCache


def test_filter_is_the_anomaly_maps_size_in_frame_pixels():
    """A whole 240x360 Ped2 frame squeezed into 64x64: the map's 5 x 4 = 20 frame pixels are
    5.3 crop rows and 3.6 crop columns; a 20x20 box is the whole crop; never below 1."""
    config = MapConfig(map_scale=4, mean_filter=(3, 5, 5))
    boxes = np.array([[0, 0, 360, 240], [10, 10, 30, 30], [0, 0, 4000, 4000]], dtype=float)
    assert filter_sizes(boxes, config).tolist() == [[5, 4], [64, 64], [1, 1]]


@pytest.mark.slow
def test_rows_are_the_pipelines_scores_and_the_peak_is_a_map_maximum(tiny_run, tmp_path):
    dataset, config = tiny_run.dataset, MapConfig()
    checkpoint = tiny_run.run_dir / "epoch_001.pt"
    boxes = tmp_path / "detections.npz"
    load_precomputed(tiny_run.root / "detections" / "boxes_test.npz", confidence=0.5).save(boxes)
    inputs = CheckpointInputs(
        dataset, checkpoint, tiny_run.test_tubes, None, config, tmp_path / "m.json"
    )
    table = middle_map_experiment(inputs, resamples=0, detections=boxes)
    model, _, _ = load_checkpoint(checkpoint)
    test = TubeCache.open(tiny_run.test_tubes)
    heads = object_scores(model, test, None, progress=False)
    sizes = frame_sizes(dataset)
    for row, scores in (("eq6", heads["score"]), ("middle_mean", heads["middle"])):
        frames = video_frame_scores(test, scores, sizes, config)
        expected = evaluate(dataset, frames, resamples=0)["auc_micro"]
        assert table["rows"][row]["auc_micro"] == pytest.approx(expected)
    values, peaks = middle_peaks(model, test, config)
    with torch.no_grad():
        error = middle_error(model.eval(), tubes_to_float(test.tubes[:1], "cpu")).mean(dim=1)
    size = tuple(filter_sizes(test.index["box"][:1].astype(float), config)[0])
    smoothed = ndimage.uniform_filter(error[0].numpy(), size=size, mode="nearest")
    assert values[0] == pytest.approx(smoothed.max()) and values[0] < error.max().item()
    assert smoothed[tuple(peaks[0])] == pytest.approx(values[0])
    assert (peaks >= 0).all() and (peaks < 64).all()
    where = table["localization"]
    assert where["regions"] > 0 and 0 <= where["peak_in_region"] <= 1 and 0 < where["chance"] < 1
    assert (tmp_path / "m.json").is_file()
    crowd = table["crowd_correlation"]
    assert crowd["normal_objects"] > 0 and set(crowd["spearman"]) == set(table["rows"])
    assert all(rho is None or -1 <= rho <= 1 for rho in crowd["spearman"].values())


@pytest.mark.slow
def test_crowd_correlation_follows_the_count_of_detections(tiny_run, tmp_path):
    """Scores equal to the number of objects in their frame correlate 1 with it; their negative
    -1 (hand-built: the test cache's own boxes as the detections)."""
    test = TubeCache.open(tiny_run.test_tubes)
    path = tmp_path / "d.npz"
    load_precomputed(tiny_run.root / "detections" / "boxes_test.npz", confidence=0.5).save(path)
    keys = list(zip(test.index["video"], test.index["frame"], strict=True))
    crowd = np.array([keys.count(key) for key in keys], dtype=float)
    result = crowd_correlation(tiny_run.dataset, test, {"up": crowd, "down": -crowd}, path)[
        "spearman"
    ]
    assert np.unique(crowd).size > 1, "the tiny scenes should hold frames with 1 and 2 objects"
    assert result["up"] == pytest.approx(1) and result["down"] == pytest.approx(-1)
