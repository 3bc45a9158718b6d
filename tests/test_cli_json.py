"""``--json``: one JSON document on stdout and nothing else; progress bars only on a terminal."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.cli.output import emit, json_mode, jsonable

REPO = Path(__file__).resolve().parents[1]


def test_json_mode_sends_every_other_line_to_stderr(capsys):
    args = argparse.Namespace(json=True)
    with json_mode(True):
        print("wrote some/file.npz")  # a command's progress line
        emit(args, {"auc": np.float32(0.5), "nan": math.nan, "path": Path("a/b")}, "text")
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"auc": 0.5, "nan": None, "path": "a/b"}
    assert "wrote some/file.npz" in captured.err and "text" not in captured.out + captured.err


def test_without_json_the_text_is_printed(capsys):
    with json_mode(False):
        emit(argparse.Namespace(json=False), {"a": 1}, lambda: "a person's text")
    assert capsys.readouterr().out == "a person's text\n"


def test_jsonable_is_strict_json():
    value = jsonable({"x": [np.int64(3), math.inf, (1.5, None)], 2: np.arange(2)})
    assert json.loads(json.dumps(value, allow_nan=False)) == {
        "x": [3, None, [1.5, None]],
        "2": [0, 1],
    }


def test_summary_json_is_the_written_file(tmp_path: Path, capsys):
    out = tmp_path / "summary.json"
    assert (
        main(["summary", "--metrics", str(REPO / "metrics" / "ped2"), "--out", str(out), "--json"])
        == 0
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out) == json.loads(out.read_text())
    assert f"wrote {out}" not in captured.out


@pytest.mark.parametrize("command", ["data check", "gate"])
def test_commands_print_one_document(command: str, ped2_root: Path, capsys):
    argv = {
        "data check": ["data", "check", "ped2", "--root", str(ped2_root), "--no-decode"],
        "gate": [
            "gate",
            "--published",
            str(REPO / "metrics/ped2/object_level.json"),
            "--dataset",
            "ped2",
        ],
    }[command]
    capsys.readouterr()
    main([*argv, "--json"])
    document = json.loads(capsys.readouterr().out)  # one document, nothing around it
    assert isinstance(document, dict) and document


def test_progress_bars_are_off_when_stderr_is_not_a_terminal():
    from bench.progress import progress_bar

    with progress_bar(range(3), desc="x") as bar:  # pytest captures stderr: not a TTY
        assert bar.disable
    with progress_bar(range(3), disable=True) as bar:
        assert bar.disable
