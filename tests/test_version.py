"""``ssmtl --version``: the package version and the git commit of the code."""

from __future__ import annotations

import re

import pytest

from bench.cli import main


def test_version_prints_package_and_commit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r"ssmtl \S+ \(git ([0-9a-f]{7}(\+dirty)?|commit unknown)\)", line), line


def test_version_needs_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    """``--version`` works alone although a command is otherwise required."""
    with pytest.raises(SystemExit):
        main(["--version", "report"])
    assert capsys.readouterr().out.startswith("ssmtl ")
