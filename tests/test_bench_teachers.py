"""The teachers at the speed of their networks (issue 15): ImageNet crops in fixed batches across
frame blocks (ImageNetTeacher.stream), decoding prefetched by a thread (prefetched), with the
same targets as one call per block. A tiny TorchScript classifier stands in for MobileNetV2."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from bench.data import open_dataset
from bench.data.synth import generate
from bench.suite.bench_tubes import load_detections
from bench.teachers import ImageNetTeacher, teacher_targets
from bench.teachers.targets import prefetched

#: Batch composition changes float sums inside oneDNN's kernels: equal within this.
ATOL = 1e-5


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 5, stride=4)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.bn(self.conv(x)).relu().mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("net") / "tiny.torchscript.pt"
    with warnings.catch_warnings():  # torch >= 2.9 deprecates TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_Tiny().eval()).save(str(path))
    return ImageNetTeacher(path, batch_size=3, crop_size=64)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("teachers") / "s"
    generate(root, seed=0, preset="tiny")
    return root


def _blocks(rng, sizes):
    frames = rng.integers(0, 256, (4, 48, 64, 3), dtype=np.uint8)
    blocks = []
    for key, n in enumerate(sizes):
        corner = rng.uniform(0, 30, (n, 2)).astype(np.float32)
        boxes = np.concatenate([corner, corner + rng.uniform(4, 30, (n, 2))], axis=1)
        blocks.append((key, frames, boxes.astype(np.float32), rng.integers(0, 4, n)))
    return blocks


def test_stream_equals_one_call_per_block(teacher):
    blocks = _blocks(np.random.default_rng(0), [2, 5, 1, 0, 7, 3])  # batches of 3 across blocks
    streamed = list(teacher.stream(iter(blocks)))
    assert [key for key, _ in streamed] == [key for key, *_ in blocks]  # every block, in order
    for (_key, frames, boxes, index), (_, logits) in zip(blocks, streamed, strict=True):
        assert logits.shape == (len(boxes), 1000) and logits.dtype == np.float32
        np.testing.assert_allclose(logits, teacher(frames, boxes, index), atol=ATOL)


def test_stream_holds_at_most_two_batches_of_crops(teacher, monkeypatch):
    sizes = []
    forward = teacher._forward
    monkeypatch.setattr(teacher, "_forward", lambda x: sizes.append(len(x)) or forward(x))
    list(teacher.stream(iter(_blocks(np.random.default_rng(1), [10, 1, 1, 4]))))
    assert sizes == [3, 3, 3, 3, 3, 1]  # fixed batches; the remainder only at the very end


def test_teacher_targets_equal_per_block_calls(teacher, tiny, tmp_path):
    dataset = open_dataset("synthetic", tiny)
    detections, _ = load_detections(tiny / "detections" / "boxes_test.npz", "synthetic", None)
    out = teacher_targets(
        detections, dataset, "test", tmp_path / "t.npy", teacher, batch_size=8,
        with_detector=False, progress=False,
    )  # fmt: skip
    assert out.shape == (len(detections), 1000) and np.isfinite(out).all()
    for video_id in detections.videos:
        lo, hi = detections.video_slice(video_id)
        frames = dataset.video("test", video_id).read(0, 10**6)
        expected = teacher(frames, detections.boxes[lo:hi], detections.frame[lo:hi])
        np.testing.assert_allclose(out[lo:hi], expected, atol=ATOL)


def test_prefetched_keeps_order_and_raises_where_the_producer_failed():
    assert list(prefetched(iter(range(20)), depth=2)) == list(range(20))

    def failing():
        yield 1
        raise OSError("unreadable frame")

    got = []
    with pytest.raises(OSError, match="unreadable"):
        for item in prefetched(failing()):
            got.append(item)
    assert got == [1]
    early = prefetched(iter(range(1000)))
    assert next(early) == 0
    early.close()  # the consumer stops: the producer thread ends too
