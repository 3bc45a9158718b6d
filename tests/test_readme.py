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


def test_readme_is_short():
    assert len((REPO / "README.md").read_text().splitlines()) <= 150


def test_readme_results_are_the_reports_summary():
    """The README's numbers come from `ssmtl report --readme`, never from a hand."""
    from bench.report.summary import README_BEGIN, README_END

    text = (REPO / "README.md").read_text()
    block = text[text.index(README_BEGIN) + len(README_BEGIN) : text.index(README_END)]
    assert block.strip() == (REPO / "reports" / "summary.md").read_text().strip()
