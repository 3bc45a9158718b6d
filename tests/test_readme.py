"""The README's two commands are the ones the project really runs."""

from __future__ import annotations

from conftest import REPO


def readme_commands() -> list[str]:
    lines = (REPO / "README.md").read_text().splitlines()
    start = lines.index("```bash") + 1
    return lines[start : lines.index("```", start)]


def test_readme_starts_with_the_two_commands():
    run, test = readme_commands()
    assert run.endswith("&& dvc repro") and test.endswith("&& pytest")


def test_ci_runs_the_readme_test_command():
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci_lines


def test_ci_runs_the_regression_gate_after_the_tests():
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert ci_lines.index("ssmtl gate") > ci_lines.index(readme_commands()[1])
