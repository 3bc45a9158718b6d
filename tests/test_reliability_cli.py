"""Reliability of the command line: named errors and meaningful exit codes (docs/reliability.md).

Exit codes: 0 ok, 2 a named error the user can fix (file, problem, fix), 1 a bug with its
traceback; ``ssmtl gate`` fails when it checked nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError, InputError, ParameterError, check_range
from bench.suite.gate import judge, load_gate_file, select_profiles

GATE_FILE = Path(__file__).resolve().parents[1] / "experiments" / "ci_gate.yaml"


def test_gate_unknown_profile_fails_with_a_named_error(tmp_path, capsys):
    code = main(["gate", "--profiles", "nosuch", "--work", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "nosuch" in err and "synthetic" in err  # names the bad one and the known ones
    assert not (tmp_path / "gate.json").exists()  # nothing ran


def test_gate_fails_when_nothing_was_checked(tmp_path):
    spec = load_gate_file(GATE_FILE)
    lines, passed = judge(spec, {}, [], 0.0, tmp_path / "gate.json")
    assert not passed and lines[0].startswith("FAIL nothing was checked")


def test_gate_selects_known_profiles():
    spec = load_gate_file(GATE_FILE)
    assert list(select_profiles(spec, ["synthetic"])) == ["synthetic"]
    assert list(select_profiles(spec, None)) == list(spec["profiles"])


def test_gate_file_that_is_not_one(tmp_path, capsys):
    bad = tmp_path / "gate.yaml"
    bad.write_text("- a list\n")
    assert main(["gate", "--file", str(bad)]) == 2
    assert "not a gate file" in capsys.readouterr().err
    assert main(["gate", "--file", str(tmp_path / "missing.yaml")]) == 2


def test_gate_published_with_nothing_to_compare_fails(tmp_path, capsys):
    metrics = tmp_path / "m.json"
    metrics.write_text('{"auc_micro": 0.9, "auc_macro": 0.9}')
    code = main(["gate", "--published", str(metrics), "--dataset", "nosuch"])
    assert code == 1 and "nothing was checked" in capsys.readouterr().out


def test_gate_override_without_value_is_a_named_error(capsys):
    assert main(["gate", "--override", "epochs"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_named_error_reads_file_problem_fix():
    error = InputError("no such video 07", file="a.npz", fix="rebuild it")
    assert str(error) == "a.npz: no such video 07; rebuild it"
    assert isinstance(error, ValueError) and isinstance(error, BenchError)


def test_check_range():
    check_range("lambda", 0.0, minimum=0)
    for value in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ParameterError, match="lambda"):
            check_range("lambda", value, minimum=0)


def test_bug_is_exit_1_with_traceback_not_bad_input(monkeypatch):
    """A genuine bug (here a ValueError from inside a command) is not hidden as bad input."""
    import bench.cli.gate as gate_cli

    def broken(args, parser):
        raise ValueError("a bug")

    monkeypatch.setattr(gate_cli, "cmd_gate", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["gate", "--profiles", "synthetic"])
