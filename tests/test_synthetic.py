"""The synthetic-scenes generator (bench.data.synth) and its adapter (bench.data.synthetic)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bench.data.base import DatasetError
from bench.data.frames import list_images
from bench.data.regions import read_track_file
from bench.data.synth import ANOMALY_KINDS, PRESETS, generate
from bench.data.synth import generator as generator_module
from bench.data.synthetic import SyntheticDataset
from bench.score import frame_difference_video


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("synthetic")
    return {
        "a": generate(base / "a", seed=0, preset="tiny"),
        "b": generate(base / "b", seed=0, preset="tiny"),
        "c": generate(base / "c", seed=1, preset="tiny"),
    }


@pytest.fixture(scope="module")
def root(roots) -> Path:
    return roots["a"]


@pytest.fixture(scope="module")
def meta(root) -> dict:
    return json.loads((root / "meta.json").read_text())


@pytest.mark.slow
def test_layout(root, meta):
    preset = PRESETS["tiny"]
    train = sorted(p.name for p in (root / "training" / "frames").iterdir())
    test = sorted(p.name for p in (root / "testing" / "frames").iterdir())
    assert train == [f"{i:02d}" for i in range(1, preset.train_videos + 1)]
    assert test == [f"{i:02d}" for i in range(1, preset.test_videos + 1)]
    for vid in test:
        frames = list_images(root / "testing" / "frames" / vid)
        assert [p.name for p in frames] == [f"{i:03d}.jpg" for i in range(len(frames))]
        masks = list_images(root / "gt" / "pixel_masks" / vid)
        assert [p.name for p in masks] == [p.name.replace(".jpg", ".png") for p in frames]
        assert cv2.imread(str(frames[0])).shape == (preset.height, preset.width, 3)
        for sub in ("frame_labels", "anomaly_kinds"):
            assert np.load(root / "gt" / sub / f"{vid}.npy").dtype == np.uint8
    assert meta["preset"]["name"] == "tiny" and meta["seed"] == 0
    assert meta["anomaly_kinds"] == ANOMALY_KINDS
    assert not list(root.parent.glob("*.tmp-*"))


@pytest.mark.slow
def test_same_seed_gives_identical_files(roots):
    a, b = roots["a"], roots["b"]
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


@pytest.mark.slow
def test_different_seed_gives_different_frames(roots):
    a, c = roots["a"], roots["c"]
    frame = Path("testing/frames/01/010.jpg")
    assert (a / frame).read_bytes() != (c / frame).read_bytes()


def test_all_four_kinds_in_tiny_test_set(root, meta):
    union = 0
    for vid in ("01", "02", "03", "04"):
        union |= int(np.bitwise_or.reduce(np.load(root / "gt" / "anomaly_kinds" / f"{vid}.npy")))
    assert union == sum(ANOMALY_KINDS.values())
    kinds = {e["kind"] for v in meta["videos"]["test"] for e in v["events"]}
    assert kinds == set(ANOMALY_KINDS)


def test_labels_masks_kinds_agree(root):
    dataset = SyntheticDataset(root)
    normal = abnormal = 0
    for video in dataset.videos("test"):
        masks = video.masks.read(0, video.num_frames)
        assert np.array_equal(video.labels, masks.any(axis=(1, 2)).astype(np.uint8))
        assert np.array_equal(video.kinds > 0, video.labels == 1)
        assert video.labels.any(), f"test video {video.id} has no anomaly"
        normal += int((video.labels == 0).sum())
        abnormal += int(video.labels.sum())
    assert normal > 0 and abnormal > 0


def test_track_boxes_are_tight_around_their_mask(root):
    dataset = SyntheticDataset(root)
    for video in dataset.videos("test"):
        masks = video.masks.read(0, video.num_frames)
        tracks = video.tracks
        assert len(tracks) and set(np.unique(tracks[:, 1]).astype(int)) == set(
            np.flatnonzero(video.labels)
        )
        covered = np.zeros_like(masks)
        for track_id, frame, x0, y0, x1, y1 in tracks.astype(int):
            part = masks[frame, y0:y1, x0:x1]
            assert part[0].any() and part[-1].any() and part[:, 0].any() and part[:, -1].any(), (
                video.id,
                frame,
                track_id,
            )
            covered[frame, y0:y1, x0:x1] = True
        assert not (masks & ~covered).any()


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_detections_include_every_anomalous_box(root, meta):
    detections = np.load(root / "detections" / "boxes_test.npz")
    assert sorted(detections.files) == [v["id"] for v in meta["videos"]["test"]]
    for video in SyntheticDataset(root).videos("test"):
        boxes = detections[video.id]
        assert boxes.dtype == np.float32 and boxes.shape[1] == 6 and np.all(boxes[:, 5] == 1.0)
        for _, frame, *box in video.tracks:
            same = boxes[boxes[:, 0] == frame, 1:5]
            assert len(same) and _iou(np.array(box), same).max() >= 0.9
    train = np.load(root / "detections" / "boxes_train.npz")
    assert sorted(train.files) == [v["id"] for v in meta["videos"]["train"]]
    assert all(len(train[k]) for k in train.files)


def test_adapter_counts_match_meta(root, meta):
    dataset = SyntheticDataset(root)
    summary = dataset.summary()
    assert summary["dataset"] == "synthetic"
    assert summary["splits"]["train"]["videos"] == len(meta["videos"]["train"])
    assert summary["splits"]["train"]["frames"] == sum(v["frames"] for v in meta["videos"]["train"])
    assert summary["splits"]["test"]["frames"] == sum(v["frames"] for v in meta["videos"]["test"])
    assert summary["splits"]["test"]["abnormal_frames"] == sum(
        v["abnormal_frames"] for v in meta["videos"]["test"]
    )
    video = dataset.video("test", "01")
    assert video[0].shape == (PRESETS["tiny"].height, PRESETS["tiny"].width, 3)
    for event in next(v for v in meta["videos"]["test"] if v["id"] == "01")["events"]:
        rows = video.tracks[video.tracks[:, 0] == event["track_id"]]
        assert rows[:, 1].min() == event["first_frame"] and rows[:, 1].max() == event["last_frame"]
    assert np.array_equal(video.tracks, read_track_file(root / "gt" / "tracks" / "01.txt"))


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    real, calls = generator_module._write_image, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > 50:
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(generator_module, "_write_image", failing)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="simulated"):
        generate(out, preset="tiny")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_refuses_to_overwrite_and_checks_arguments(tmp_path, root):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate(out, preset="tiny")
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError):
        generate(tmp_path / "x", preset="huge")
    with pytest.raises(ValueError):
        generate(tmp_path / "x", difficulty=1.5)
    generate(out, preset="tiny", overwrite=True)
    assert not (out / "keep.txt").exists()
    assert (out / "gt" / "frame_labels" / "01.npy").read_bytes() == (
        root / "gt" / "frame_labels" / "01.npy"
    ).read_bytes()


def test_broken_ground_truth_is_named(tmp_path, root):
    broken = tmp_path / "broken"
    shutil.copytree(root, broken)
    labels = broken / "gt" / "frame_labels" / "01.npy"
    np.save(labels, np.load(labels)[:-2])
    (broken / "gt" / "anomaly_kinds" / "02.npy").write_bytes(b"not an array")
    (broken / "gt" / "tracks" / "03.txt").unlink()
    with pytest.raises(DatasetError) as error:
        SyntheticDataset(broken).videos("test")
    message = str(error.value)
    assert (
        "gt/frame_labels/01.npy: 38 labels" in message
        and "testing/frames/01 has 40 frames" in message
    )
    assert "gt/anomaly_kinds/02.npy" in message and "gt/tracks/03.txt" in message
    assert len(error.value.problems) == 3
    SyntheticDataset(broken).videos("train")  # the training split is still fine
    (broken / "meta.json").unlink()
    with pytest.raises(DatasetError, match="meta.json"):
        SyntheticDataset(broken).videos("train")


def test_frame_difference_baseline_is_not_perfect(root):
    scores, labels = [], []
    for video in SyntheticDataset(root).videos("test"):
        scores.append(frame_difference_video(video))
        labels.append(video.labels)
        assert len(scores[-1]) == video.num_frames
    auc = roc_auc_score(np.concatenate(labels), np.concatenate(scores))
    assert auc < 1.0
