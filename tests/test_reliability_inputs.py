"""Bad inputs get named errors (docs/reliability.md): parameters out of range, truncated or
pickled array files, boxes that are not finite or not in the frame."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.errors import InputError
from bench.io import read_arrays, save_npz


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reliability") / "synthetic"
    assert main(["data", "synth", "--out", str(root), "--preset", "tiny", "--seed", "5"]) == 0
    return root


# --- parameter ranges: a usage error (exit 2) naming the argument, before any work --------------

OUT_OF_RANGE = [
    ("train", "--lam", "-0.5"),
    ("train", "--batch-size", "-1"),
    ("train", "--epochs", "0"),
    ("train", "--lr", "nan"),
    ("detect", "--frame-stride", "0"),
    ("detect", "--confidence", "1.5"),
    ("tubes", "--t", "0"),
    ("score", "--map-scale", "0"),
    ("score", "--mean-filter", "0"),
    ("score", "--sigma", "-1"),
    ("fuse", "--weight", "2"),
    ("evaluate", "--bootstrap", "-3"),
    ("evaluate", "--beta", "inf"),
    ("search", "--frame-stride", "-2"),
    ("search", "--heartbeat", "-1"),
]


@pytest.mark.parametrize(("command", "option", "value"), OUT_OF_RANGE)
def test_parameter_out_of_range_is_a_usage_error(command, option, value, capsys):
    argv = [command, option, value]
    if option == "--mean-filter":
        argv += ["5", "5"]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert option in err and ("out of range" in err or "expected" in err)


# --- array files -------------------------------------------------------------------------------


def test_truncated_npz_is_a_named_error(tmp_path):
    path = save_npz(tmp_path / "s.npz", {"01": np.arange(100.0)})
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(InputError, match="s.npz: unreadable") as error:
        read_arrays(path, "scores")
    assert "truncated" in str(error.value)


def test_pickled_npy_is_refused(tmp_path):
    path = tmp_path / "t.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="t.npy"):
        read_arrays(path)


def test_evaluate_with_a_truncated_scores_file_exits_2(synthetic_root, tmp_path, capsys):
    scores = tmp_path / "scores.npz"
    scores.write_bytes(b"PK\x03\x04 truncated")
    code = main(["evaluate", "synthetic", "--root", str(synthetic_root), "--scores", str(scores)])
    assert code == 2 and "scores.npz" in capsys.readouterr().err


def test_fuse_with_a_missing_input_exits_2(tmp_path, capsys):
    good = save_npz(tmp_path / "a.npz", {"01": np.arange(5.0)})
    argv = ["fuse", "--object-scores", str(good), "--frame-scores", str(tmp_path / "none.npz")]
    assert main([*argv, "--out", str(tmp_path / "f.npz")]) == 2
    assert "none.npz" in capsys.readouterr().err
    assert not (tmp_path / "f.npz").exists()


def test_train_with_a_corrupt_teachers_file_exits_2(tmp_path, capsys):
    teachers = tmp_path / "teachers.npy"
    teachers.write_bytes(b"\x93NUMPY garbage")
    argv = ["train", "--tubes", str(tmp_path), "--teachers", str(teachers)]
    argv += ["--out", str(tmp_path / "m.pt"), "--metrics", str(tmp_path / "m.json")]
    assert main(argv) == 2
    assert "teachers.npy" in capsys.readouterr().err


def test_corrupt_tube_cache_is_a_named_error(tmp_path, capsys):
    cache = tmp_path / "tubes"
    cache.mkdir()
    (cache / "meta.json").write_text("{not json")
    argv = ["train", "--tubes", str(cache), "--out", str(tmp_path / "m.pt")]
    assert main([*argv, "--metrics", str(tmp_path / "m.json"), "--tasks", "arrow"]) == 2
    assert "meta.json is unreadable" in capsys.readouterr().err


# --- boxes at ingestion ------------------------------------------------------------------------


def boxes_file(synthetic_root: Path, tmp_path: Path, rows: np.ndarray) -> Path:
    with np.load(synthetic_root / "detections" / "boxes_test.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    first = sorted(arrays)[0]
    arrays[first] = np.vstack([arrays[first], rows]).astype(np.float32)
    return save_npz(tmp_path / "boxes.npz", arrays)


def detect(synthetic_root, boxes: Path, out: Path) -> int:
    return main(
        ["detect", "synthetic", "--root", str(synthetic_root), "--split", "test"]
        + ["--detector", "precomputed", "--precomputed", str(boxes), "--confidence", "0"]
        + ["--out", str(out)]
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_boxes_are_refused(synthetic_root, tmp_path, capsys, bad):
    boxes = boxes_file(synthetic_root, tmp_path, np.array([[0, 10, 10, bad, 40, 0.9]]))
    assert detect(synthetic_root, boxes, tmp_path / "d.npz") == 2
    err = capsys.readouterr().err
    assert "boxes.npz" in err and "NaN or infinite" in err
    assert not (tmp_path / "d.npz").exists()


def test_boxes_outside_the_frame_or_one_pixel_are_dropped(synthetic_root, tmp_path):
    reference = tmp_path / "ref.npz"
    assert detect(synthetic_root, synthetic_root / "detections" / "boxes_test.npz", reference) == 0
    outside = [0, 5000, 5000, 5100, 5100, 0.9]  # entirely outside: zero area after clipping
    thin = [0, 10, 10, 10.5, 60, 0.9]  # under a pixel wide
    inverted = [0, 50, 50, 20, 20, 0.9]
    boxes = boxes_file(synthetic_root, tmp_path, np.array([outside, thin, inverted]))
    with pytest.warns(UserWarning, match="dropped 3 box"):
        assert detect(synthetic_root, boxes, tmp_path / "d.npz") == 0
    with np.load(tmp_path / "d.npz") as got, np.load(reference) as want:
        assert len(got["frame"]) == len(want["frame"])
        meta = json.loads(str(got["meta"]))
    assert meta["detector"] == "precomputed"


# --- frames: data check decodes every one ---------------------------------------------------


def test_data_check_decodes_every_frame_and_names_a_truncated_jpeg(tmp_path, capsys, monkeypatch):
    root = tmp_path / "synthetic"
    assert main(["data", "synth", "--out", str(root), "--preset", "tiny", "--seed", "1"]) == 0
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # bars are drawn on a terminal only
    assert main(["data", "check", "synthetic", "--root", str(root)]) == 0
    assert "decode synthetic frames" in capsys.readouterr().err  # the progress bar
    frame = sorted((root / "testing/frames").rglob("*.jpg"))[7]
    frame.write_bytes(frame.read_bytes()[: frame.stat().st_size // 2])  # an interrupted copy
    assert main(["data", "check", "synthetic", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert f"{frame}: corrupt or truncated image" in err and "replace the file" in err
    # without decoding the structure alone passes (what data check did before)
    assert main(["data", "check", "synthetic", "--root", str(root), "--no-decode"]) == 0


def test_frame_check_survives_ultralytics_patching_image_open(tmp_path):
    """Once imported, ultralytics replaces PIL's Image.open with one that, on a file Pillow
    cannot identify, imports a HEIF plugin absent here: the check still names the file."""
    import ultralytics  # noqa: F401  (patches PIL.Image.open on import)
    from PIL import Image

    from bench.data.frames import ImageFolderFrames

    folder = tmp_path / "01"
    folder.mkdir()
    Image.new("RGB", (8, 8)).save(folder / "000.jpg")
    (folder / "001.jpg").write_bytes(b"not an image at all")
    problems = ImageFolderFrames(folder).verify()
    assert len(problems) == 1 and "001.jpg" in problems[0] and "corrupt" in problems[0]
