"""Object-centric tubes (bench.tubes): sequence indices, cropping, and the resumable tube cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import bench.tubes as tubes_module
import bench.tubes.build as build_module
from bench.data import DatasetError, open_dataset
from bench.data.synth import generate
from bench.detection.table import Detections
from bench.tasks import middle_context, reverse
from bench.tubes import (
    TubeCache,
    TubeCacheError,
    build_tube_cache,
    clamp_frames,
    crop_tubes,
    intermittent_offsets,
    window_offsets,
)


def detections_from_boxes_npz(path: Path, confidence: float = 0.0) -> Detections:
    """A detections table from a ``boxes_*.npz`` (one array per video, rows frame, x1, y1, x2, y2,
    conf)."""
    with np.load(path) as archive:
        arrays = {vid: archive[vid] for vid in sorted(archive.files)}
    rows = np.concatenate([a for a in arrays.values()]) if arrays else np.zeros((0, 6), np.float32)
    video = np.concatenate([np.repeat(np.array([vid]), len(a)) for vid, a in arrays.items()])
    keep = rows[:, 5] >= confidence
    n = int(keep.sum())
    return Detections(
        video[keep],
        rows[keep, 0],
        rows[keep, 1:5],
        rows[keep, 5],
        np.full(n, -1),
        np.full((n, 80), np.nan),
    )


def table(video: list[str], frame: list[int], boxes: list[list[float]]) -> Detections:
    n = len(video)
    return Detections(
        np.array(video),
        np.array(frame),
        np.array(boxes, np.float32).reshape(-1, 4),
        np.ones(n),
        np.full(n, -1),
        np.full((n, 80), np.nan),
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "tiny"
    generate(root, seed=0, preset="tiny")
    return root


@pytest.fixture(scope="module")
def dataset(tiny):
    return open_dataset("synthetic", tiny)


@pytest.fixture(scope="module")
def train_dets(tiny) -> Detections:
    return detections_from_boxes_npz(tiny / "detections" / "boxes_train.npz")


@pytest.fixture(scope="module")
def reference_train(dataset, train_dets, tmp_path_factory) -> TubeCache:
    """An uninterrupted training build."""
    return build_tube_cache(
        dataset,
        "train",
        train_dets,
        tmp_path_factory.mktemp("ref") / "train",
        progress=False,
        key={"detector": "oracle"},
    )


# --- sequences ------------------------------------------------------------------------------------


def test_window_offsets_forward_and_reversed():
    assert window_offsets(3).tolist() == [-3, -2, -1, 0, 1, 2, 3]
    i = 10
    forward = (i + window_offsets(3)).tolist()
    assert forward == [7, 8, 9, 10, 11, 12, 13]  # (i-t, ..., i, ..., i+t)
    assert reverse(np.array(forward)).tolist() == [
        13,
        12,
        11,
        10,
        9,
        8,
        7,
    ]  # (i+t, ..., i, ..., i-t)
    assert reverse(forward) == [13, 12, 11, 10, 9, 8, 7]
    seq = torch.arange(2 * 7 * 2).view(2, 7, 2)
    assert torch.equal(reverse(seq, axis=1)[:, :, 0], seq[:, :, 0].flip(1))
    with pytest.raises(ValueError):
        window_offsets(0)


@pytest.mark.slow
@pytest.mark.parametrize("t", [1, 2, 3, 4])
def test_intermittent_offsets_properties(t):
    seen_gaps = set()
    for seed in range(1500):
        offsets = intermittent_offsets(t, np.random.default_rng([7, seed]))
        assert offsets.shape == (2 * t + 1,)
        assert offsets[t] == 0
        gaps = np.diff(offsets)
        assert gaps.min() >= 1 and gaps.max() <= 4  # strictly increasing, gaps in {1, 2, 3, 4}
        assert gaps.max() > 1  # not the consecutive sequence
        seen_gaps.update(gaps.tolist())
        again = intermittent_offsets(t, np.random.default_rng([7, seed]))
        assert np.array_equal(offsets, again)  # deterministic per seed
    assert seen_gaps == {1, 2, 3, 4}
    draws = {tuple(intermittent_offsets(t, np.random.default_rng(s))) for s in range(50)}
    assert len(draws) > 5


def test_intermittent_offsets_fit_near_video_ends():
    t = 3
    for seed in range(500):
        before, after = seed % 8 + t, (seed // 8) % 5 + t  # at least t frames on each side
        offsets = intermittent_offsets(t, np.random.default_rng(seed), 4, before, after)
        gaps = np.diff(offsets)
        if before + after > 2 * t:
            assert -offsets[0] <= before and offsets[-1] <= after  # fits in the video
            assert gaps.max() > 1
        assert gaps.min() >= 1 and gaps.max() <= 4 and offsets[t] == 0
    # a side with fewer than t frames (clamp policy at a video end) is free, the other still fits
    for seed in range(200):
        offsets = intermittent_offsets(t, np.random.default_rng(seed), 4, 1, 9)
        assert offsets[-1] <= 9 and np.diff(offsets).max() > 1
    # no intermittent sequence fits in a 2t+1 video: drawn unconstrained, frames clamped by the
    # caller
    offsets = intermittent_offsets(t, np.random.default_rng(0), 4, t, t)
    assert np.diff(offsets).max() > 1
    assert clamp_frames(3, offsets, 7).min() >= 0 and clamp_frames(3, offsets, 7).max() <= 6
    with pytest.raises(ValueError):
        intermittent_offsets(t, np.random.default_rng(0), max_gap=1)


def test_middle_context():
    seq = np.arange(-3, 4)
    context, target = middle_context(seq)
    assert context.tolist() == [-3, -2, -1, 1, 2, 3] and target == 0
    tube = torch.arange(2 * 7 * 3).view(2, 7, 3)
    context, target = middle_context(tube, axis=1)
    assert context.shape == (2, 6, 3) and torch.equal(target, tube[:, 3])
    assert torch.equal(context, tube[:, [0, 1, 2, 4, 5, 6]])
    assert middle_context([1, 2, 3]) == ([1, 3], 2)
    with pytest.raises(ValueError):
        middle_context(np.arange(6))


# --- cropping -------------------------------------------------------------------------------------


def test_crop_tubes_matches_per_crop_resize():
    rng = np.random.default_rng(0)
    patch = rng.integers(0, 256, (40, 20, 3)).astype(np.float32)  # an object 20 wide, 40 high
    frame = np.pad(
        patch, ((30, 50), (70, 30), (0, 0)), mode="edge"
    )  # edges replicate the box's border
    big = rng.integers(0, 256, (128, 128, 3)).astype(np.float32)
    frame2 = np.zeros((160, 200, 3), np.float32)
    frame2[10:138, 40:168] = big
    frames = (
        torch.from_numpy(np.stack([np.pad(frame, ((0, 40), (0, 80), (0, 0))), frame2]))
        .permute(0, 3, 1, 2)
        .contiguous()
    )
    boxes = torch.tensor(
        [[70.0, 30.0, 90.0, 70.0], [40.0, 10.0, 168.0, 138.0], [55.3, 21.7, 81.9, 60.2]]
    )
    index = torch.tensor([[0], [1], [0]])
    crops = crop_tubes(frames, index, boxes)
    assert crops.shape == (3, 1, 3, 64, 64)
    # upscaled box: a bilinear resize of the slice (half-pixel centres), cv2 and torch alike
    crop = frames[0, :, 30:70, 70:90]
    torch_ref = F.interpolate(crop[None], size=(64, 64), mode="bilinear", align_corners=False)[0]
    cv2_ref = torch.from_numpy(cv2.resize(patch, (64, 64), interpolation=cv2.INTER_LINEAR)).permute(
        2, 0, 1
    )
    assert torch.allclose(crops[0, 0], torch_ref, atol=1e-3)
    assert torch.allclose(crops[0, 0], cv2_ref, atol=1e-2)
    # box twice the output size: exactly the 2x2 area average
    area_ref = torch.from_numpy(cv2.resize(big, (64, 64), interpolation=cv2.INTER_AREA)).permute(
        2, 0, 1
    )
    assert torch.allclose(crops[1, 0], area_ref, atol=1e-3)
    # fractional box: bilinear samples at the bin centres of the box, in continuous coordinates
    x1, y1, x2, y2 = boxes[2].tolist()
    h, w = frames.shape[2:]
    xs = x1 + (torch.arange(64) + 0.5) * (x2 - x1) / 64
    ys = y1 + (torch.arange(64) + 0.5) * (y2 - y1) / 64
    grid = torch.stack(torch.meshgrid(2 * xs / w - 1, 2 * ys / h - 1, indexing="xy"), dim=-1)[None]
    sample_ref = F.grid_sample(
        frames[:1], grid, mode="bilinear", padding_mode="border", align_corners=False
    )[0]
    assert torch.allclose(crops[2, 0], sample_ref, atol=1e-2)


def test_crop_tubes_same_box_in_every_frame_one_roi_align_call(monkeypatch):
    rng = np.random.default_rng(1)
    base = torch.from_numpy(rng.integers(0, 100, (3, 48, 64)).astype(np.float32))
    frames = torch.stack([base + 10 * j for j in range(10)])  # frame j = base + 10 j
    index = torch.tensor([[0, 1, 2, 3, 4], [9, 7, 5, 3, 1], [2, 2, 2, 2, 2]])
    boxes = torch.tensor([[5.0, 6.0, 30.0, 40.0], [0.0, 0.0, 64.0, 48.0], [10.5, 3.25, 12.5, 20.0]])
    calls = []
    import torchvision.ops

    original = torchvision.ops.roi_align  # crop_tubes imports it at call time
    monkeypatch.setattr(
        torchvision.ops, "roi_align", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    crops = crop_tubes(frames, index, boxes)
    assert len(calls) == 1
    assert crops.shape == (3, 5, 3, 64, 64)
    for k in range(3):
        for j in range(5):  # the same box: crops differ exactly by the frames' offset
            expected = crops[k, 0] + 10 * (index[k, j] - index[k, 0])
            assert torch.allclose(crops[k, j], expected, atol=1e-3)
    single = crop_tubes(frames, index[:, 2:3], boxes)
    assert torch.allclose(single[:, 0], crops[:, 2])


def test_grey_frames_are_cropped_once_and_equal_the_three_channel_crops():
    from torchvision.ops import roi_align

    from bench.tubes import to_uint8

    rng = np.random.default_rng(2)
    grey = torch.from_numpy(rng.integers(0, 256, (6, 1, 48, 64)).astype(np.float32))
    frames = grey.expand(-1, 3, -1, -1).contiguous()  # a grey video decoded as RGB (UCSD)
    index = torch.from_numpy(rng.integers(0, 6, (5, 3)))
    boxes = torch.tensor(
        [
            [5.0, 6.0, 30.0, 40.0],
            [0, 0, 64, 48],
            [10.5, 3.25, 12.5, 20],
            [1, 2, 3, 4],
            [7, 7, 60, 9],
        ]
    )
    crops = crop_tubes(frames, index, boxes)
    assert crops.stride(2) == 0  # one channel cropped, broadcast
    rois = torch.cat([index.reshape(-1, 1).float(), tubes_module.clip_boxes(boxes, 48, 64)
                      .repeat_interleave(3, dim=0)], dim=1)  # fmt: skip
    full = roi_align(frames, rois, (64, 64), 1.0, -1, True).view(5, 3, 3, 64, 64)
    assert torch.equal(crops, full)  # bit for bit the three-channel result
    as_bytes = to_uint8(crops)
    assert as_bytes.shape == (5, 3, 3, 64, 64)
    assert np.array_equal(as_bytes, full.round().to(torch.uint8).numpy())
    colour = frames.clone()
    colour[2, 1, 0, 0] += 1  # one pixel off grey: every channel is cropped
    assert crop_tubes(colour, index, boxes).stride(2) != 0


def test_clamp_frames_at_both_ends():
    offsets = window_offsets(3)
    assert clamp_frames(0, offsets, 40).tolist() == [[0, 0, 0, 0, 1, 2, 3]]
    assert clamp_frames(1, offsets, 40).tolist() == [[0, 0, 0, 1, 2, 3, 4]]
    assert clamp_frames(39, offsets, 40).tolist() == [[36, 37, 38, 39, 39, 39, 39]]
    assert clamp_frames([2, 38], offsets, 40).tolist() == [
        [0, 0, 1, 2, 3, 4, 5],
        [35, 36, 37, 38, 39, 39, 39],
    ]


# --- the cache ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_build_tiny_test_split(dataset, tiny, tmp_path, monkeypatch):
    dets = detections_from_boxes_npz(tiny / "detections" / "boxes_test.npz")
    cache = build_tube_cache(
        dataset, "test", dets, tmp_path / "test", progress=False, batch_frames=16
    )
    assert len(cache) == len(dets)  # test objects are never skipped
    assert cache.tubes.shape == (len(dets), 7, 3, 64, 64) and cache.tubes.dtype == np.uint8
    assert cache.intermittent is None and cache.meta["counts"]["skipped"] == 0
    assert isinstance(cache.tubes, np.memmap) and cache.tubes.mode == "r"
    # the rows follow the table: video, frame, box
    assert np.array_equal(cache.video, dets.video[cache.detection_row])
    assert np.array_equal(cache.frame, dets.frame[cache.detection_row])
    assert np.array_equal(cache.box, dets.boxes[cache.detection_row])
    # a tube equals a direct crop of the frames it names
    for row in (0, 5, len(cache) - 1):
        video = dataset.video("test", str(cache.video[row]))
        frames = tubes_module.frames_to_tensor(video.read(0, video.num_frames))
        direct = tubes_module.to_uint8(
            crop_tubes(
                frames,
                torch.from_numpy(cache.window_frames[row : row + 1].astype(np.int64)),
                torch.from_numpy(cache.box[row : row + 1]),
            )
        )
        assert np.array_equal(direct[0], cache.tubes[row])
    # a second call with the same inputs is answered from the folder, without work
    monkeypatch.setattr(
        build_module, "_crop_video", lambda *a, **k: pytest.fail("rebuilt a finished cache")
    )
    again = build_tube_cache(dataset, "test", dets, tmp_path / "test", progress=False)
    assert len(again) == len(cache)


@pytest.mark.slow
def test_build_tiny_train_split(reference_train, train_dets, dataset):
    cache = reference_train
    frames_per_video = {v.id: v.num_frames for v in dataset.videos("train")}
    nf = np.array([frames_per_video[v] for v in train_dets.video])
    inside = (train_dets.frame >= 3) & (train_dets.frame <= nf - 4)
    # training windows at video ends are clamped as at scoring: every detection is a tube
    assert len(cache) == len(train_dets) and cache.meta["counts"]["skipped"] == 0
    assert cache.meta["counts"]["clamped_windows"] == int((~inside).sum()) > 0
    assert cache.meta["counts"]["tubes"] == len(train_dets)
    assert cache.tubes.shape == cache.intermittent.shape == (len(cache), 7, 3, 64, 64)
    assert cache.tubes.dtype == cache.intermittent.dtype == np.uint8
    cache_nf = np.array([frames_per_video[str(v)] for v in cache.video])
    offsets = np.arange(-3, 4)
    expected_windows = np.clip(cache.frame[:, None] + offsets, 0, cache_nf[:, None] - 1)
    assert np.array_equal(cache.window_frames, expected_windows)
    # one intermittent sequence per object, from the per-object generator, inside the video
    for row in range(0, len(cache), 17):
        f, n = int(cache.frame[row]), frames_per_video[str(cache.video[row])]
        expected = intermittent_offsets(
            3, np.random.default_rng([0, int(cache.detection_row[row])]), 4, f, n - 1 - f
        )
        assert np.array_equal(cache.intermittent_offsets[row], expected)
    assert np.array_equal(
        cache.intermittent_frames,
        np.clip(cache.frame[:, None] + cache.intermittent_offsets, 0, cache_nf[:, None] - 1),
    )
    assert np.array_equal(cache.intermittent[:, 3], cache.tubes[:, 3])  # the same middle crop
    assert not np.array_equal(cache.intermittent, cache.tubes)
    assert cache.meta["detector"] == {"detector": "oracle"} and cache.meta["t"] == 3


@pytest.mark.slow
def test_edges_clamped_for_test_and_train_alike_or_skipped_on_request(dataset, tmp_path):
    last = dataset.video("test", "01").num_frames - 1
    dets = table(
        ["01", "01", "01"], [0, 20, last], [[30, 20, 50, 60], [30, 20, 50, 60], [30, 20, 50, 60]]
    )
    cache = build_tube_cache(dataset, "test", dets, tmp_path / "test", progress=False)
    assert cache.window_frames.tolist() == [
        [0, 0, 0, 0, 1, 2, 3],
        [17, 18, 19, 20, 21, 22, 23],
        [last - 3, last - 2, last - 1, last, last, last, last],
    ]
    assert cache.meta["counts"]["clamped_windows"] == 2
    tube = cache.tubes[0]
    assert all(np.array_equal(tube[j], tube[3]) for j in range(4))  # frame 0 repeats
    tube = cache.tubes[2]
    assert all(np.array_equal(tube[j], tube[3]) for j in range(3, 7))  # the last frame repeats
    # training: clamped by default, as at scoring (the same edge windows), skipped on request
    train = dataset.video("train", "01").num_frames
    dets = table(["01"] * 4, [0, 2, 3, train - 1], [[30, 20, 50, 60]] * 4)
    skipped = build_tube_cache(
        dataset, "train", dets, tmp_path / "train_skip", progress=False, train_edge="skip"
    )
    assert skipped.frame.tolist() == [3] and skipped.meta["counts"]["skipped"] == 3
    clamped = build_tube_cache(dataset, "train", dets, tmp_path / "train", progress=False)
    assert len(clamped) == 4 and clamped.meta["counts"]["skipped"] == 0
    test_windows = build_tube_cache(dataset, "test", dets, tmp_path / "as_test", progress=False)
    assert np.array_equal(clamped.window_frames, test_windows.window_frames)
    assert clamped.intermittent_frames.min() >= 0 and clamped.intermittent_frames.max() <= train - 1


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _kill_after_first_video(monkeypatch) -> list[str]:
    """Make the build raise when it starts its second video (as if killed there)."""
    seen: list[str] = []
    original = build_module._crop_video

    def crop(video, *args, **kwargs):
        seen.append(video.id)
        if len(seen) > 1:
            raise RuntimeError("simulated kill")
        return original(video, *args, **kwargs)

    monkeypatch.setattr(build_module, "_crop_video", crop)
    return seen


@pytest.mark.slow
def test_killed_build_resumes_to_identical_files(
    dataset, train_dets, reference_train, tmp_path, monkeypatch
):
    out = tmp_path / "train"
    partial = tmp_path / "train.partial"
    with monkeypatch.context() as patch:
        _kill_after_first_video(patch)
        with pytest.raises(RuntimeError, match="simulated kill"):
            build_tube_cache(
                dataset, "train", train_dets, out, progress=False, key={"detector": "oracle"}
            )
    assert not out.exists() and partial.is_dir() and not (partial / "meta.json").exists()
    assert json.loads((partial / "progress.json").read_text())["videos_done"] == ["01"]
    for folder in (out, partial):  # neither is taken for a finished cache
        with pytest.raises(TubeCacheError, match=str(folder)):
            TubeCache.open(folder)
    resumed: list[str] = []
    original = build_module._crop_video
    monkeypatch.setattr(
        build_module,
        "_crop_video",
        lambda video, *a, **k: resumed.append(video.id) or original(video, *a, **k),
    )
    cache = build_tube_cache(
        dataset, "train", train_dets, out, progress=False, key={"detector": "oracle"}
    )
    assert resumed == ["02"]  # resumed after the completed video
    assert not partial.exists() and len(cache) == len(reference_train)
    assert _files(out) == _files(reference_train.root)  # every file byte-identical


@pytest.mark.slow
def test_stale_partial_with_other_key_is_discarded(
    dataset, train_dets, reference_train, tmp_path, monkeypatch
):
    out = tmp_path / "train"
    with monkeypatch.context() as patch:
        _kill_after_first_video(patch)
        with pytest.raises(RuntimeError):
            build_tube_cache(
                dataset, "train", train_dets, out, t=2, progress=False, key={"detector": "oracle"}
            )
    assert (tmp_path / "train.partial" / "progress.json").is_file()
    seen: list[str] = []
    original = build_module._crop_video
    monkeypatch.setattr(
        build_module,
        "_crop_video",
        lambda video, *a, **k: seen.append(video.id) or original(video, *a, **k),
    )
    cache = build_tube_cache(
        dataset, "train", train_dets, out, progress=False, key={"detector": "oracle"}
    )
    assert seen == ["01", "02"] and cache.t == 3
    assert _files(out) == _files(reference_train.root)
    # an out_dir without meta.json is never trusted: rebuilt
    (out / "meta.json").unlink()
    seen.clear()
    build_tube_cache(dataset, "train", train_dets, out, progress=False, key={"detector": "oracle"})
    assert seen == ["01", "02"] and _files(out) == _files(reference_train.root)
    # another detector key: rebuilt, and open() with the old key names the folder
    other = build_tube_cache(
        dataset, "train", train_dets, out, progress=False, key={"detector": "other"}
    )
    assert other.meta["detector"] == {"detector": "other"}
    with pytest.raises(TubeCacheError, match=str(out)):
        TubeCache.open(out, key=reference_train.key)


def test_foreign_folder_is_not_deleted(dataset, train_dets, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(TubeCacheError, match="refusing"):
        build_tube_cache(dataset, "train", train_dets, out, progress=False)
    assert (out / "notes.txt").read_text() == "keep me"


def test_corrupt_frame_raises_naming_the_file(tiny, train_dets, tmp_path):
    copy = tmp_path / "tiny"
    shutil.copytree(tiny, copy)
    bad = copy / "training" / "frames" / "01" / "010.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(DatasetError, match=str(bad)):
        build_tube_cache(
            open_dataset("synthetic", copy), "train", train_dets, tmp_path / "cache", progress=False
        )
    with pytest.raises(TubeCacheError):
        TubeCache.open(tmp_path / "cache")


def test_train_val_split_85_15_per_video(reference_train):
    cache = reference_train
    train, val = cache.train_val_split()
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(cache)
    for vid, n in cache.num_frames.items():
        cut = int(np.floor(0.85 * n))
        assert cut == 34 and n == 40
        rows = np.flatnonzero(cache.video == vid)
        assert np.all(cache.frame[np.intersect1d(train, rows)] < cut)
        assert np.all(cache.frame[np.intersect1d(val, rows)] >= cut)
        assert len(np.intersect1d(train, rows)) > 0 and len(np.intersect1d(val, rows)) > 0
    # by frames: 85% of each video's centre frames go to train
    train_frames = {(str(cache.video[i]), int(cache.frame[i])) for i in train}
    assert max(f for _, f in train_frames) == 33


def test_open_errors_name_the_folder(reference_train, tmp_path):
    with pytest.raises(TubeCacheError, match=str(tmp_path / "nowhere")):
        TubeCache.open(tmp_path / "nowhere")
    copy = tmp_path / "copy"
    shutil.copytree(reference_train.root, copy)
    meta = json.loads((copy / "meta.json").read_text())
    meta["format"] = 999
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(TubeCacheError, match=str(copy)):
        TubeCache.open(copy)
    assert len(TubeCache.open(reference_train.root, key=reference_train.key)) == len(
        reference_train
    )


def test_benchmark_scaled_detections_are_distinct_copies(train_dets):
    from bench.suite.bench_tubes import scaled_detections

    doubled = scaled_detections(train_dets, 2)
    assert len(doubled["frame"]) == 2 * len(train_dets)
    order = np.lexsort((doubled["frame"], doubled["video"]))
    assert np.array_equal(order, np.arange(len(order)))  # sorted by (video, frame)
    assert len(np.unique(doubled["boxes"], axis=0)) > len(np.unique(train_dets.boxes, axis=0))


def test_a_copy_of_the_dataset_in_another_folder_gives_byte_identical_caches(
    tiny, tmp_path, monkeypatch
):
    """The cache is keyed by the videos' content, not the root's location: clones of the
    repository in different folders write the same files (the same DVC hashes)."""
    files = {}
    for clone in ("a", "b"):
        folder = tmp_path / clone
        shutil.copytree(tiny, folder / "data")
        monkeypatch.chdir(folder)
        dataset = open_dataset("synthetic", "data")  # relative, as dvc.yaml gives it
        out = folder / "tubes"
        boxes = detections_from_boxes_npz(folder / "data" / "detections" / "boxes_test.npz")
        build_tube_cache(dataset, "test", boxes, out, progress=False)
        files[clone] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert files["a"] == files["b"]
    assert b"/a/" not in files["a"]["meta.json"]
