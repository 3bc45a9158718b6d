"""The detections table and the detectors (YOLO, motion, precomputed, full frame)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shared_path

from bench.data.base import DatasetError, FrameSource, Video, VideoDataset
from bench.detection import (
    BackgroundSubtractionDetector,
    Detections,
    DetectionsFileError,
    FrameDetections,
    FullFrameDetector,
    NoDetectionsError,
    PrecomputedDetector,
    YoloDetector,
    detect_split,
    load_precomputed,
    nms_keep_scores,
)
from bench.paper import DETECTION_CONFIDENCE


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _table(n: int = 7, seed: int = 0) -> Detections:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2)).astype(np.float32)
    scores = rng.uniform(0, 1, (n, 80)).astype(np.float32)
    scores[1] = np.nan
    return Detections(
        video=np.array(["02", "01", "02", "01", "10", "01", "02"][:n]),
        frame=np.array([5, 3, 1, 0, 2, 3, 1][:n]),
        boxes=np.hstack([xy, xy + 10]),
        confidence=rng.uniform(0, 1, n),
        class_id=np.array([0, -1, 1, 2, 0, 0, 3][:n]),
        class_scores=scores,
        meta={"detector": "test", "params": {"confidence": 0.5}},
    )


class ArrayFrames(FrameSource):
    def __init__(self, frames: np.ndarray):
        self.frames = frames

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.frames[start:stop]

    @property
    def location(self) -> Path:
        return Path("<memory>")


class ArrayDataset(VideoDataset):
    """An in-memory dataset: ``videos`` maps id -> frames, same for both splits."""

    name = "arrays"

    def __init__(self, videos: dict[str, np.ndarray]):
        self._arrays = videos
        self._videos = {}
        self.root = Path("<memory>")

    def _load_split(self, split):
        return [Video(vid, split, ArrayFrames(frames)) for vid, frames in self._arrays.items()]


def moving_square(num_frames: int = 40, seed: int = 0):
    """Frames of a static textured background with a 20x20 red square moving right 3 px/frame."""
    import cv2

    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (7, 7), 0)
    frames, boxes = [], []
    for t in range(num_frames):
        frame = background.astype(np.int16) + rng.normal(0, 2, background.shape).astype(np.int16)
        x, y = 10 + 3 * t, 40
        frame[y : y + 20, x : x + 20] = (230, 30, 30)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
        boxes.append((x, y, x + 20, y + 20))
    return np.stack(frames), np.array(boxes, np.float32)


# ---------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------
def test_table_is_sorted_and_round_trips(tmp_path):
    table = _table()
    assert list(table.video) == ["01", "01", "01", "02", "02", "02", "10"]
    assert list(table.frame) == [0, 3, 3, 1, 1, 5, 2]
    # stable: the two rows of ("01", 3) keep their input order (input rows 1 and 5)
    assert list(table.class_id[1:3]) == [-1, 0]
    assert (table.frame.dtype, table.boxes.dtype, table.class_id.dtype) == (
        np.int32,
        np.float32,
        np.int16,
    )

    path = table.save(tmp_path / "sub" / "dets.npz")
    assert path.exists() and not list(tmp_path.rglob("*.tmp"))
    loaded = Detections.load(path)
    assert len(loaded) == len(table) == 7
    for name in ("video", "frame", "boxes", "confidence", "class_id"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(table, name))
    np.testing.assert_array_equal(loaded.class_scores, table.class_scores)  # NaN rows compare equal
    assert loaded.meta == table.meta
    assert loaded.has_class_scores.tolist() == [True, False, True, True, True, True, True]

    one = loaded.for_video("02")
    assert len(one) == 3 and set(one.video) == {"02"} and list(one.frame) == [1, 1, 5]
    assert len(loaded.for_video("99")) == 0
    kept = loaded.filter(loaded.confidence > 0.5)
    assert len(kept) == int((loaded.confidence > 0.5).sum())
    assert np.all(kept.confidence > 0.5)
    both = Detections.concat([loaded.for_video("10"), loaded.for_video("01")])
    assert list(both.video) == ["01", "01", "01", "10"]
    assert loaded.regions("01").shape == (3, 6)

    empty = Detections.empty()
    Detections.load(empty.save(tmp_path / "empty.npz"))
    assert len(Detections.load(tmp_path / "empty.npz")) == 0


def test_load_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.npz"
    with pytest.raises(DetectionsFileError, match="missing.npz"):
        Detections.load(missing)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"this is not a zip archive")
    with pytest.raises(DetectionsFileError, match="corrupt.npz"):
        Detections.load(corrupt)
    partial = tmp_path / "partial.npz"
    np.savez(partial, video=np.array(["01"]), frame=np.array([0]))
    with pytest.raises(DetectionsFileError, match=r"partial.npz.*boxes"):
        Detections.load(partial)


# ---------------------------------------------------------------------------------------------
# NMS keeps the class vector
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_nms_keeps_the_class_vector_of_the_kept_box():
    raw = torch.zeros(1, 84, 4)
    raw[0, :4, 0] = torch.tensor([50.0, 50.0, 20.0, 20.0])  # box A: person 0.9, bicycle 0.3
    raw[0, 4 + 0, 0], raw[0, 4 + 1, 0] = 0.9, 0.3
    raw[0, :4, 1] = torch.tensor([52.0, 51.0, 20.0, 20.0])  # box B overlaps A: person 0.7, car 0.6
    raw[0, 4 + 0, 1], raw[0, 4 + 2, 1] = 0.7, 0.6
    raw[0, :4, 2] = torch.tensor([150.0, 50.0, 20.0, 20.0])  # box C elsewhere: below threshold
    raw[0, 4 + 0, 2] = 0.2
    raw[0, :4, 3] = torch.tensor([51.0, 50.0, 20.0, 20.0])  # box D overlaps A, top class dog 0.8
    raw[0, 4 + 16, 3] = 0.8

    ((boxes, conf, cls, scores),) = nms_keep_scores(raw, confidence=0.5, iou=0.45)
    assert cls.tolist() == [0, 16]  # per-class: A wins over B; D (another class) survives
    np.testing.assert_allclose(boxes[0].numpy(), [40, 40, 60, 60])
    np.testing.assert_array_equal(scores[0].numpy(), raw[0, 4:, 0].numpy())  # A's whole 80-vector
    np.testing.assert_array_equal(scores[1].numpy(), raw[0, 4:, 3].numpy())
    np.testing.assert_allclose(conf.numpy(), [0.9, 0.8])

    ((boxes, conf, cls, scores),) = nms_keep_scores(raw, confidence=0.5, iou=0.45, agnostic=True)
    assert cls.tolist() == [0] and scores[0, 1].item() == pytest.approx(0.3)
    ((boxes, conf, cls, scores),) = nms_keep_scores(raw, confidence=0.5, iou=0.45, classes=[16])
    assert cls.tolist() == [16]
    ((boxes, *_),) = nms_keep_scores(raw, confidence=0.95)
    assert len(boxes) == 0


# ---------------------------------------------------------------------------------------------
# detectors without weights
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_background_subtraction_finds_a_moving_square():
    from torchvision.ops import box_iou

    frames, truth = moving_square()
    detector = BackgroundSubtractionDetector()
    found = detector.detect(frames[:16]) + detector.detect(frames[16:])
    for t, frame in enumerate(found):
        assert len(frame) == 1, f"frame {t}: {frame.boxes}"
        iou = box_iou(torch.from_numpy(frame.boxes), torch.from_numpy(truth[t : t + 1])).item()
        assert iou > 0.5, f"frame {t}: IoU {iou:.2f}"
        assert (
            0 < frame.confidence[0] <= 1
            and frame.class_id[0] == -1
            and np.isnan(frame.class_scores).all()
        )
    detector.reset()
    again = detector.detect(frames[:16])
    np.testing.assert_array_equal(again[3].boxes, found[3].boxes)
    assert detector.params()["history"] == 200


def test_full_frame_detector():
    frames = np.zeros((3, 24, 40, 3), np.uint8)
    found = FullFrameDetector().detect(frames)
    assert len(found) == 3
    for frame in found:
        np.testing.assert_array_equal(frame.boxes, [[0, 0, 40, 24]])
        assert frame.confidence.tolist() == [1.0] and frame.class_id.tolist() == [-1]


def test_detect_split_runs_resets_and_rejects_empty_splits():
    frames, _ = moving_square(20)
    dataset = ArrayDataset({"a": frames, "b": frames[:7]})
    table = detect_split(dataset, "test", FullFrameDetector(), batch_size=8, progress=False)
    assert (
        len(table) == 27
        and table.meta["split"] == "test"
        and table.meta["num_frames"] == {"a": 20, "b": 7}
    )
    assert list(table.for_video("b").frame) == list(range(7))

    motion = detect_split(
        dataset, "train", BackgroundSubtractionDetector(), batch_size=8, progress=False
    )
    assert set(motion.videos) == {"a", "b"}  # reset() per video: video b is primed afresh

    class Nothing:
        name = "nothing"

        def params(self):
            return {"confidence": 0.99}

        def detect(self, frames):
            return [FrameDetections.empty() for _ in frames]

    with pytest.raises(NoDetectionsError, match="arrays test") as error:
        detect_split(dataset, "test", Nothing(), progress=False)
    assert isinstance(error.value, DatasetError)

    class OnlyLongVideos(Nothing):
        def detect(self, frames):
            return (
                FullFrameDetector().detect(frames) if len(frames) == 8 else super().detect(frames)
            )

    with pytest.warns(UserWarning, match="video b"):
        detect_split(dataset, "test", OnlyLongVideos(), batch_size=8, progress=False)


# ---------------------------------------------------------------------------------------------
# real Ped2 files
# ---------------------------------------------------------------------------------------------
def test_precomputed_ped2_counts():
    folder = shared_path("data", "ped2", "detections")
    test = load_precomputed(folder / "yolov3_test.npz", DETECTION_CONFIDENCE["ped2"])
    train = load_precomputed(folder / "yolov3_train.npz", 0.5)
    assert len(test) == 33_050 and len(train) == 30_012
    assert len(test.videos) == 12 and len(train.videos) == 16
    assert (test.class_id == -1).all() and np.isnan(test.class_scores).all()
    assert test.confidence.min() >= 0.5
    assert len(load_precomputed(folder / "yolov3_test.npz", 0.8)) < len(test)


def test_precomputed_detector_over_a_split(ped2_root):
    from bench.data import open_dataset

    path = ped2_root / "detections" / "yolov3_test.npz"
    dataset = open_dataset("ped2", ped2_root)
    detector = PrecomputedDetector(path, 0.5)
    table = detect_split(dataset, "test", detector, progress=False)
    assert len(table) == 33_050 and table.meta["detector"] == "precomputed"
    assert table.boxes[:, [0, 2]].min() >= 0 and table.boxes[:, [0, 2]].max() <= 360
    assert table.boxes[:, [1, 3]].max() <= 240
    detector.reset("01")
    first = detector.detect(dataset.video("test", "01").read(0, 3))
    assert [len(f) for f in first] == [
        int((table.for_video("01").frame == i).sum()) for i in range(3)
    ]


def test_precomputed_file_of_other_videos_is_rejected(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.array([[0, 1, 1, 5, 5, 0.9]], np.float32))
    dataset = ArrayDataset({"a": np.zeros((2, 8, 8, 3), np.uint8)})
    with pytest.raises(NoDetectionsError, match="arrays train.*other.npz"):
        detect_split(dataset, "train", PrecomputedDetector(path, 0.5), progress=False)
    bad = tmp_path / "bad.npz"
    np.savez(bad, a=np.zeros((3, 5), np.float32))
    with pytest.raises(DatasetError, match=r"bad.npz.*'a'"):
        load_precomputed(bad)


@pytest.fixture(scope="module")
def yolo():
    weights = shared_path("models", "yolo11n_coco.pt")
    return YoloDetector(weights, confidence=0.5)


@pytest.fixture(scope="module")
def ped2_frames():
    from bench.data import open_dataset

    dataset = open_dataset("ped2", shared_path("data", "ped2"))
    return np.concatenate(
        [dataset.video("test", "01").read(0, 4), dataset.video("train", "01").read(60, 61)]
    )


@pytest.mark.slow
def test_yolo_finds_people_in_ped2(yolo, ped2_frames):
    found = yolo.detect(ped2_frames)
    assert len(found) == 5
    height, width = ped2_frames.shape[1:3]
    for frame in found:
        assert len(frame) >= 3  # Ped2 frames show several pedestrians
        assert frame.class_scores.shape == (len(frame), 80)
        assert np.all((frame.class_scores >= 0) & (frame.class_scores <= 1))
        np.testing.assert_array_equal(frame.confidence, frame.class_scores.max(axis=1))
        np.testing.assert_array_equal(frame.class_id, frame.class_scores.argmax(axis=1))
        assert frame.confidence.min() >= 0.5
        assert np.all(frame.boxes[:, [0, 2]] >= 0) and np.all(frame.boxes[:, [0, 2]] <= width)
        assert np.all(frame.boxes[:, [1, 3]] >= 0) and np.all(frame.boxes[:, [1, 3]] <= height)
        assert np.all(frame.boxes[:, 2] > frame.boxes[:, 0]) and np.all(
            frame.boxes[:, 3] > frame.boxes[:, 1]
        )
        assert 0 in frame.class_id  # a person
    yolo.confidence = 0.7  # same network, higher threshold
    try:
        assert sum(map(len, yolo.detect(ped2_frames))) < sum(map(len, found))
    finally:
        yolo.confidence = 0.5


@pytest.mark.slow
def test_yolo_matches_ultralytics_predict(yolo, ped2_frames):
    from ultralytics import YOLO

    ours = yolo.detect(ped2_frames[:1])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = YOLO(str(yolo.runner.weights)).predict(
            [ped2_frames[0][..., ::-1]], conf=0.5, iou=0.45, verbose=False, device="cpu"
        )[0]  # predict takes BGR arrays
    order = np.argsort(-result.boxes.conf.numpy())
    np.testing.assert_allclose(ours.boxes, result.boxes.xyxy.numpy()[order], atol=1e-2)
    np.testing.assert_allclose(ours.confidence, result.boxes.conf.numpy()[order], atol=1e-4)
