"""Weights lookup and the distillation teachers (ImageNet logits, detector class scores)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from conftest import shared_path

import bench.weights as weights
from bench.detection import Detections, YoloDetector, load_precomputed
from bench.paper import N_DISTILL
from bench.teachers import DetectorTeacher, ImageNetTeacher, crop_boxes, teacher_targets
from bench.weights import WeightsNotFoundError, resolve_weights


# ---------------------------------------------------------------------------------------------
# resolve_weights
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty models folder, no library caches, and a download that fails like no network."""
    folder = tmp_path / "models"
    monkeypatch.setenv("SSMTL_MODELS_DIR", str(folder))
    monkeypatch.setattr(weights, "_library_caches", lambda name: [])
    calls = []

    def no_network(name, target):
        calls.append(name)
        raise OSError("network is unreachable")

    monkeypatch.setattr(weights, "_download", no_network)
    return folder, calls


def test_resolve_weights_finds_paths_and_the_models_folder(offline, tmp_path):
    folder, calls = offline
    direct = tmp_path / "my.pt"
    direct.write_bytes(b"x")
    assert resolve_weights(direct) == direct
    folder.mkdir()
    (folder / "yolov3u.pt").write_bytes(b"x")
    (folder / "resnet50-11ad3fa6.pth").write_bytes(b"x")
    assert resolve_weights("yolov3u.pt") == folder / "yolov3u.pt"
    assert resolve_weights("somewhere/else/yolov3u.pt") == folder / "yolov3u.pt"  # by file name
    assert (
        resolve_weights("resnet50") == folder / "resnet50-11ad3fa6.pth"
    )  # torchvision's file name
    assert calls == []


def test_resolve_weights_missing_names_file_folder_and_variable(offline):
    folder, calls = offline
    with pytest.raises(WeightsNotFoundError) as error:
        resolve_weights("yolov3u.pt")
    message = str(error.value)
    assert "yolov3u.pt" in message and str(folder) in message and "SSMTL_MODELS_DIR" in message
    assert "network is unreachable" in message and calls == ["yolov3u.pt"]

    with pytest.raises(WeightsNotFoundError, match=r"resnet50\.pth.*SSMTL_MODELS_DIR"):
        resolve_weights("resnet50")
    with pytest.raises(WeightsNotFoundError, match=r"my_private\.pt.*not a name"):
        resolve_weights("my_private.pt")
    assert calls == ["yolov3u.pt", "resnet50"]  # unknown names are never downloaded
    with pytest.raises(FileNotFoundError):  # WeightsNotFoundError is a FileNotFoundError
        ImageNetTeacher("resnet50")


# ---------------------------------------------------------------------------------------------
# real models on Ped2
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ped2():
    from bench.data import open_dataset

    return open_dataset("ped2", shared_path("data", "ped2"))


@pytest.fixture(scope="module")
def imagenet():
    return ImageNetTeacher(
        shared_path("models", "mobilenet_v2_imagenet.torchscript.pt"), batch_size=64
    )


@pytest.fixture(scope="module")
def yolo():
    return YoloDetector(shared_path("models", "yolo11n_coco.pt"), confidence=0.5)


@pytest.fixture(scope="module")
def precomputed():
    return load_precomputed(shared_path("data", "ped2", "detections", "yolov3_test.npz"), 0.5)


def test_imagenet_teacher_logits_are_batch_independent(imagenet, ped2, precomputed):
    frames = ped2.video("test", "01").read(0, 2)
    rows = precomputed.for_video("01")
    rows = rows.filter(rows.frame < 2)
    rows = rows.filter(np.r_[0:2, len(rows) - 2 : len(rows)])  # 2 boxes of frame 0, 2 of frame 1
    logits = imagenet(frames, rows.boxes, rows.frame)
    assert logits.shape == (4, 1000) and logits.dtype == np.float32 and np.isfinite(logits).all()
    assert imagenet.normalize is False  # the TorchScript file normalises itself
    imagenet.batch_size = 1
    try:
        one_by_one = imagenet(frames, rows.boxes, rows.frame)
    finally:
        imagenet.batch_size = 64
    np.testing.assert_allclose(logits, one_by_one, atol=1e-4)
    per_frame = imagenet(frames, [rows.boxes[rows.frame == 0], rows.boxes[rows.frame == 1]])
    np.testing.assert_allclose(per_frame, logits, atol=1e-4)


def test_roi_align_crop_matches_cv2_resize(imagenet, ped2):
    frame = ped2.video("test", "01").read(0, 1)
    small = np.array([[104, 140, 122, 172]], np.float32)  # a pedestrian, 18x32 -> upsampled
    crop = imagenet.crops(frame, small, np.array([0]))[0].permute(1, 2, 0).numpy()
    x0, y0, x1, y1 = small[0].astype(int)
    reference = (
        cv2.resize(frame[0, y0:y1, x0:x1], (224, 224), interpolation=cv2.INTER_LINEAR) / 255.0
    )
    assert np.abs(crop - reference).mean() < 0.01
    inner = slice(16, -16)  # the crop borders differ: roi_align interpolates with pixels outside
    assert np.abs(crop[inner, inner] - reference[inner, inner]).max() < 0.02

    large = np.array(
        [[0, 0, 360, 240]], np.float32
    )  # downscaled: roi_align averages like INTER_AREA
    crop = imagenet.crops(frame, large, np.array([0]))[0].permute(1, 2, 0).numpy()
    reference = cv2.resize(frame[0], (224, 224), interpolation=cv2.INTER_AREA) / 255.0
    assert np.abs(crop - reference).mean() < 0.02


@pytest.mark.parametrize("grey", [True, False])
def test_crops_of_grey_images_equal_cutting_every_channel(grey):
    """Grey images (UCSD's RGB with equal channels) are cut on one channel and broadcast: bit for
    bit what roi_align gives on all three; colour images are cut on all three."""
    from torchvision.ops import roi_align

    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 1 if grey else 3, 48, 80, generator=generator).expand(2, 3, 48, 80)
    images = images.contiguous() if grey else torch.rand(2, 3, 48, 80, generator=generator)
    boxes = torch.tensor([[3.0, 4.0, 70.5, 40.0], [10.0, 0.0, 20.0, 9.0], [0.0, 0.0, 80.0, 48.0]])
    frame_index = torch.tensor([1, 0, 1])
    crops = crop_boxes(images, boxes, frame_index, size=32)
    rois = torch.cat([frame_index.float().view(-1, 1), boxes], dim=1)
    every_channel = roi_align(images, rois, (32, 32), 1.0, -1, aligned=True)
    assert crops.shape == (3, 3, 32, 32) and torch.equal(crops, every_channel)
    assert (crops.stride(1) == 0) == grey


def test_crops_cut_on_several_threads_are_one_calls_bits():
    """Many boxes are cut by the CPU threads a share each: the same bits as one roi_align call,
    in the boxes' order, with any thread count."""
    from torchvision.ops import roi_align

    generator = torch.Generator().manual_seed(1)
    images = torch.rand(3, 3, 48, 80, generator=generator)
    corner = torch.rand(17, 2, generator=generator) * torch.tensor([60.0, 30.0])
    boxes = torch.cat([corner, corner + 2 + torch.rand(17, 2, generator=generator) * 18], dim=1)
    frame_index = torch.randint(0, 3, (17,), generator=generator)
    rois = torch.cat([frame_index.float().view(-1, 1), boxes], dim=1)
    expected = roi_align(images, rois, (32, 32), 1.0, -1, aligned=True)
    threads = torch.get_num_threads()
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            assert torch.equal(crop_boxes(images, boxes, frame_index, size=32), expected)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_detector_teacher_reproduces_yolo_class_scores(yolo, ped2, precomputed):
    frames = ped2.video("test", "01").read(0, 2)
    found = yolo.detect(frames)
    teacher = DetectorTeacher.from_detector(yolo)
    scores, iou = teacher(frames, [f.boxes for f in found], return_iou=True)
    own = np.concatenate([f.class_scores for f in found])
    np.testing.assert_allclose(scores, own, atol=1e-5)
    assert iou.min() > 0.999

    rows = precomputed.for_video("01")
    rows = rows.filter(rows.frame < 2)
    by_iou, iou = teacher(frames, rows.boxes, rows.frame, return_iou=True)
    assert by_iou.shape == (len(rows), 80) and np.all((by_iou >= 0) & (by_iou <= 1))
    assert np.median(iou) > 0.6
    by_nms = DetectorTeacher.from_detector(yolo, match="nms")(frames, rows.boxes, rows.frame)
    assert np.median(by_nms[:, 0]) >= np.median(
        by_iou[:, 0]
    )  # the anchor NMS keeps is more confident
    assert (by_nms.argmax(axis=1) == 0).mean() > 0.8  # Ped2 boxes are mostly pedestrians


@pytest.mark.slow
def test_teacher_targets_streams_to_a_memmap(tmp_path, imagenet, yolo, ped2, precomputed):
    rows = precomputed.for_video("02")
    rows = rows.filter(
        np.flatnonzero((rows.frame == 1) | (rows.frame == 40))[[0, 1, -1]]
    )  # two frame batches
    frames = ped2.video("test", "02").read(0, 64)
    own = yolo.detect(frames[1:2])[0]
    known = Detections(
        video=["02"], frame=[1], boxes=own.boxes[:1], confidence=own.confidence[:1],
        class_id=own.class_id[:1], class_scores=own.class_scores[:1],
    )  # fmt: skip
    table = Detections.concat([rows, known])
    teacher = DetectorTeacher.from_detector(yolo)
    with pytest.raises(ValueError, match="DetectorTeacher"):
        teacher_targets(table, ped2, "test", tmp_path / "t.npy", imagenet, None, progress=False)

    out = teacher_targets(
        table, ped2, "test", tmp_path / "t.npy", imagenet, teacher, batch_size=32, progress=False
    )
    assert out.shape == (4, N_DISTILL) and out.dtype == np.float32 and np.isfinite(out).all()
    assert not list(tmp_path.glob("*.tmp"))
    np.testing.assert_allclose(out[:, :1000], imagenet(frames, table.boxes, table.frame), atol=1e-4)
    given = table.has_class_scores
    np.testing.assert_array_equal(out[given, 1000:], table.class_scores[given])  # kept as detected
    np.testing.assert_allclose(
        out[~given, 1000:], teacher(frames, table.boxes[~given], table.frame[~given]), atol=1e-5
    )
