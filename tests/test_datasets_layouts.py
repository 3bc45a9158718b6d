"""The adapters on small hand-made roots in each official layout, and their error messages."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from bench.cli import main
from bench.data import DatasetError, open_dataset
from bench.data.ucsd import parse_ucsd_labels, ranges_to_labels


def gray_frames(n: int, h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (n, h, w), dtype=np.uint8)


def write_images(folder: Path, frames: np.ndarray, pattern: str, first: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / pattern.format(index + first)), frame)


def write_avi(path: Path, frames: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (frames.shape[2], frames.shape[1])
    )
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


@pytest.fixture
def ucsd_release(tmp_path: Path) -> Path:
    """``UCSDped2/Train/Train001/001.tif`` ... with .bmp masks and the .m labels file."""
    top = tmp_path / "UCSD_Anomaly_Dataset.v1p2" / "UCSDped2"
    write_images(top / "Train" / "Train001", gray_frames(5), "{:03d}.tif", first=1)
    write_images(top / "Train" / "Train002", gray_frames(4), "{:03d}.tif", first=1)
    for video, n in ((1, 6), (2, 5)):
        write_images(
            top / "Test" / f"Test{video:03d}", gray_frames(n, seed=video), "{:03d}.tif", first=1
        )
        masks = np.zeros((n, 24, 32), np.uint8)
        masks[2:4, 5:9, 10:20] = 255
        write_images(top / "Test" / f"Test{video:03d}_gt", masks, "{:03d}.bmp", first=1)
    (top / "Test" / "UCSDped2.m").write_text(
        "TestVideoFile = {};\n"
        "TestVideoFile{end+1}.gt_frame = [3:4];\n"
        "TestVideoFile{end+1}.gt_frame = [3:4];\n"
    )
    return tmp_path / "UCSD_Anomaly_Dataset.v1p2"


def test_ucsd_original_release(ucsd_release: Path):
    dataset = open_dataset("ped2", ucsd_release)
    assert [(v.id, v.num_frames) for v in dataset.videos("train")] == [("01", 5), ("02", 4)]
    test = dataset.video("test", "01")
    assert test.labels.tolist() == [0, 0, 1, 1, 0, 0]
    frame = test[0]
    assert frame.shape == (24, 32, 3) and np.array_equal(frame[..., 0], frame[..., 2])  # grey → RGB
    assert test.tracks.tolist() == [[0, 2, 10, 5, 20, 9], [0, 3, 10, 5, 20, 9]]


def test_ucsd_labels_beyond_the_video_name_the_file(ucsd_release: Path):
    labels = ucsd_release / "UCSDped2" / "Test" / "UCSDped2.m"
    labels.write_text(
        "TestVideoFile{end+1}.gt_frame = [3:9];\nTestVideoFile{end+1}.gt_frame = [3:4];\n"
    )
    with pytest.raises(
        DatasetError,
        match=r"UCSDped2\.m: test video 1 labelled up to frame 9 but .*Test001 has 6 frames",
    ):
        open_dataset("ped2", ucsd_release).videos("test")


def test_ped1_several_ranges_per_line(tmp_path: Path):
    path = tmp_path / "UCSDped1.m"
    path.write_text(
        "TestVideoFile{end+1}.gt_frame = [5:90, 140:200];\n"
        "TestVideoFile{end+1}.gt_frame = [1:10];\n"
    )
    ranges = parse_ucsd_labels(path)
    assert ranges == [[(5, 90), (140, 200)], [(1, 10)]]
    labels = ranges_to_labels(ranges[0], 200)
    assert (
        labels.sum() == 86 + 61
        and labels[3] == 0
        and labels[4] == 1
        and labels[89] == 1
        and labels[90] == 0
    )


def test_corrupt_frame_is_named(ucsd_release: Path):
    bad = ucsd_release / "UCSDped2" / "Train" / "Train001" / "003.tif"
    bad.write_bytes(b"not an image")
    video = open_dataset("ped2", ucsd_release).video("train", "01")
    with pytest.raises(DatasetError, match=r"003\.tif: corrupt or unreadable image"):
        video.read(0, 5)


def test_check_cli_names_every_problem(tmp_path: Path, capsys):
    (tmp_path / "training" / "frames").mkdir(parents=True)
    assert main(["data", "check", "ped2", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no train videos found" in err and "no test videos found" in err
    assert main(["data", "check", "ped2", "--root", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def avenue_mat(path: Path, masks: np.ndarray) -> None:
    cell = np.empty((1, len(masks)), dtype=object)
    for index, mask in enumerate(masks):
        cell[0, index] = mask
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"volLabel": cell})


def test_avenue_official_layout_with_videos(tmp_path: Path):
    write_avi(tmp_path / "training_videos" / "01.avi", gray_frames(7))
    write_avi(tmp_path / "testing_videos" / "01.avi", gray_frames(6))
    masks = np.zeros((6, 24, 32), np.uint8)
    masks[1, 2:5, 3:6] = 1
    masks[4, 10:12, 20:30] = 1
    avenue_mat(tmp_path / "testing_label_mask" / "1_label.mat", masks)
    dataset = open_dataset("avenue", tmp_path)
    assert dataset.summary()["splits"] == {
        "train": {"videos": 1, "frames": 7},
        "test": {"videos": 1, "frames": 6, "abnormal_frames": 2},
    }
    video = dataset.video("test", "01")
    assert video.labels.tolist() == [0, 1, 0, 0, 1, 0]
    assert video.read(2, 5).shape == (3, 24, 32, 3)
    assert video.tracks.tolist() == [[0, 1, 3, 2, 6, 5], [1, 4, 20, 10, 30, 12]]


def test_avenue_mask_count_disagreeing_with_the_video(tmp_path: Path):
    write_avi(tmp_path / "testing_videos" / "01.avi", gray_frames(6))
    avenue_mat(tmp_path / "testing_label_mask" / "1_label.mat", np.zeros((5, 24, 32), np.uint8))
    with pytest.raises(
        DatasetError, match=r"1_label\.mat \(masks\): 5 entries but .*01\.avi has 6 frames"
    ):
        open_dataset("avenue", tmp_path).videos("test")


def test_shanghaitech_official_layout(tmp_path: Path):
    write_avi(tmp_path / "training" / "videos" / "01_001.avi", gray_frames(5))
    write_images(tmp_path / "testing" / "frames" / "01_0014", gray_frames(4), "{:03d}.jpg")
    (tmp_path / "testing" / "test_frame_mask").mkdir(parents=True)
    np.save(
        tmp_path / "testing" / "test_frame_mask" / "01_0014.npy", np.array([0, 1, 1, 0], np.uint8)
    )
    pixel = np.zeros((4, 24, 32), np.uint8)
    pixel[1:3, 0:4, 0:4] = 1
    (tmp_path / "testing" / "test_pixel_mask").mkdir(parents=True)
    np.save(tmp_path / "testing" / "test_pixel_mask" / "01_0014.npy", pixel)
    dataset = open_dataset("shanghaitech", tmp_path)
    assert dataset.summary()["splits"]["test"] == {"videos": 1, "frames": 4, "abnormal_frames": 2}
    video = dataset.video("test", "01_0014")
    assert video.masks.read(0, 4).any(axis=(1, 2)).tolist() == [False, True, True, False]
    assert video.tracks.tolist() == [
        [0, 1, 0, 0, 4, 4],
        [0, 2, 0, 0, 4, 4],
    ]  # derived: no AED files here
    np.save(tmp_path / "testing" / "test_frame_mask" / "01_0014.npy", np.array([0, 1, 1], np.uint8))
    with pytest.raises(DatasetError, match=r"01_0014\.npy: 3 entries but .*01_0014 has 4 frames"):
        open_dataset("shanghaitech", tmp_path).videos("test")
