"""The reliability matrix (tests/reliability_matrix.py): every bad input of every command that
reads a file or a parameter is a named error, exit 2, naming the file or option, with nothing
already computed lost; the table in docs/reliability.md is the same list."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bench.cli import main

sys.path.insert(0, str(Path(__file__).parent))
import reliability_matrix as matrix  # noqa: E402

CASES = matrix.all_cases()
REPO = Path(__file__).resolve().parents[1]
BEFORE = b"an output computed before\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> SimpleNamespace:
    """The valid artifacts of a tiny synthetic run the bad inputs are made from."""
    from bench.data import open_dataset
    from bench.pipeline import make_detector, run_detect, run_tubes

    tmp = tmp_path_factory.mktemp("matrix")
    root = tmp / "synthetic"
    assert main(["data", "synth", "--out", str(root), "--preset", "tiny", "--seed", "3"]) == 0
    dataset = open_dataset("synthetic", root)
    for split, stride in (("train", 4), ("test", 1)):
        boxes = str(root / f"detections/boxes_{split}.npz")
        detector = make_detector("precomputed", "", 0.0, 640, boxes, "cpu")
        run_detect(dataset, split, detector, tmp / f"det_{split}.npz", frame_stride=stride)
        run_tubes(dataset, split, tmp / f"det_{split}.npz", tmp / f"tubes_{split}", 1, 0)
    assert main(["baseline", "frame-diff", "synthetic", "--root", str(root),
                 "--out", str(tmp / "scores.npz")]) == 0  # fmt: skip
    rows = len(np.load(tmp / "det_train.npz")["boxes"])
    np.save(tmp / "teachers.npy", np.full((rows, 8), 0.1, np.float32))
    return SimpleNamespace(
        root=root,
        det_train=tmp / "det_train.npz",
        det_test=tmp / "det_test.npz",
        boxes_test=root / "detections/boxes_test.npz",
        tubes_train=tmp / "tubes_train",
        tubes_test=tmp / "tubes_test",
        scores=tmp / "scores.npz",
        teachers=tmp / "teachers.npy",
    )


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        return exit_.code if isinstance(exit_.code, int) else 1


@pytest.mark.slow  # builds a tiny synthetic run once, then ~0.1 s a case
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_a_named_error(case: matrix.Case, world, tmp_path, capsys):
    for name in case.outputs:  # outputs of an earlier run: a failed one must not touch them
        (tmp_path / name).write_bytes(BEFORE)
    argv = case.build(world, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code = run(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert case.names in err, err
    if not case.usage:
        line = next(line for line in err.splitlines() if line.startswith("error: "))
        assert "; " in line, f"no fix in {line!r}"
    for name in case.outputs:
        assert (tmp_path / name).read_bytes() == BEFORE, f"{name} was overwritten"
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "an output was left behind"


def test_at_least_165_inputs_and_7_faults():
    assert len(CASES) >= 165 and len(matrix.FAULTS) >= 7
    assert len({case.id for case in CASES}) == len(CASES)


def test_every_fault_names_a_test_that_exists():
    for *_, test in matrix.FAULTS:
        path, name = test.split("::")
        assert f"def {name}(" in (REPO / path).read_text(), test


def test_docs_table_is_generated_from_the_cases():
    doc = (REPO / "docs/reliability.md").read_text()
    assert matrix.markdown() in doc, (
        "run: python tests/reliability_matrix.py --write docs/reliability.md"
    )
