"""The loaders against the real benchmark files in ../shared and their published counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import shared_path

from bench.cli import main
from bench.data import open_dataset

PED2_TRAIN = [120, 150, 150, 180, 180, 150, 150, 120, 180, 180, 180, 180, 180, 150, 150, 150]
PED2_TEST = [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]
AVENUE_TEST = [
    1439,
    1211,
    923,
    947,
    1007,
    1283,
    605,
    36,
    1175,
    841,
    472,
    1271,
    549,
    507,
    1001,
    740,
    426,
    294,
    248,
    273,
    76,
]


def test_ped2_counts_and_frames(ped2_root):
    dataset = open_dataset("ped2", ped2_root)
    assert [v.num_frames for v in dataset.videos("train")] == PED2_TRAIN
    assert [v.num_frames for v in dataset.videos("test")] == PED2_TEST
    assert [v.id for v in dataset.videos("test")] == [f"{i:02d}" for i in range(1, 13)]
    assert dataset.summary()["splits"]["test"]["abnormal_frames"] == 1648
    frames = dataset.video("test", "01").read(178, 185)  # clipped at the end of the video
    assert frames.shape == (2, 240, 360, 3) and frames.dtype == np.uint8


def test_ped2_labels_follow_the_official_ranges(ped2_root):
    labels = open_dataset("ped2", ped2_root).test_labels()
    # UCSDped2.m: video 1 is [61:180] (1-based), so frames 0..59 normal and 60..179 abnormal.
    assert labels["01"][:60].sum() == 0 and labels["01"][60:].all()
    assert labels["03"][:146].all() and labels["03"][146:].sum() == 0
    mnad = np.load(ped2_root / "gt" / "frame_labels_ped2.npy").ravel()
    assert np.array_equal(np.concatenate([labels[k] for k in sorted(labels)]), mnad)


def test_ped2_masks_are_one_based_and_agree_with_labels(ped2_root):
    video = open_dataset("ped2", ped2_root).video("test", "01")
    masks = video.masks.read(0, video.num_frames)
    assert masks.shape == (180, 240, 360)
    # mask file k.png belongs to frame k-1: frames with a non-empty mask are the labelled ones.
    assert np.array_equal(masks.any(axis=(1, 2)).astype(np.uint8), video.labels)


def test_ped2_tracks_derived_from_masks(ped2_root):
    video = open_dataset("ped2", ped2_root).video("test", "01")
    tracks = video.tracks
    assert tracks.shape[1] == 6 and len(tracks) > 0
    abnormal_frames = set(np.flatnonzero(video.labels))
    assert set(tracks[:, 1].astype(int)) == abnormal_frames
    masks = video.masks.read(0, video.num_frames)
    for _, frame, x0, y0, x1, y1 in tracks[:: max(1, len(tracks) // 20)].astype(int):
        inside = masks[frame, y0:y1, x0:x1].sum()
        assert inside > 0 and masks[frame, y0:y1, x0:x1].any(axis=0)[[0, -1]].all()


def test_ped2_data_check_cli_prints_the_counts(ped2_root, capsys):
    assert main(["data", "check", "ped2", "--root", str(ped2_root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "dataset": "ped2",
        "splits": {
            "train": {"videos": 16, "frames": 2550},
            "test": {"videos": 12, "frames": 2010, "abnormal_frames": 1648},
        },
    }


@pytest.mark.slow
def test_avenue_ground_truth_from_official_masks():
    dataset = open_dataset("avenue", shared_path("data", "avenue"))
    videos = dataset.videos("test")
    assert [v.num_frames for v in videos] == AVENUE_TEST
    assert sum(v.abnormal_frames for v in videos) == 3712
    assert not videos[0].has_frames  # a ground-truth-only root


@pytest.mark.slow
def test_avenue_mnad_labels_are_a_named_alternative():
    root = shared_path("data", "avenue")
    official = open_dataset("avenue", root).test_labels()
    mnad = open_dataset("avenue", root, labels="mnad").test_labels()
    assert sum(int(v.sum()) for v in mnad.values()) == 3867
    differing = {k: int((official[k] != mnad[k]).sum()) for k in official}
    assert sum(differing.values()) == 441
    assert sum(1 for n in differing.values() if n) == 15


def test_shanghaitech_ground_truth_and_aed_tracks():
    dataset = open_dataset("shanghaitech", shared_path("data", "shanghaitech"))
    videos = dataset.videos("test")
    assert len(videos) == 107
    assert sum(v.num_frames for v in videos) == 40791
    assert sum(v.abnormal_frames for v in videos) == 17326
    tracks = dataset.test_tracks()
    assert sum(len(t) for t in tracks.values()) == 18937
    assert sum(len(np.unique(t[:, 0])) for t in tracks.values()) == 158
    # every ground-truth box lies in an abnormal frame of its video
    labels = dataset.test_labels()
    assert all(labels[k][t[:, 1].astype(int)].all() for k, t in tracks.items() if len(t))


@pytest.mark.slow
def test_ground_truth_only_root_fails_the_check_naming_the_problem(capsys):
    root = shared_path("data", "avenue")
    assert main(["data", "check", "avenue", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "no training videos" in err and "no frames" in err
