"""The house rules of the code base, checked: layers without circles, short modules, ruff."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

MAX_MODULE_LINES = 400


def bench_modules() -> list:
    return sorted((REPO / "bench").rglob("*.py"))


def test_import_layers_and_no_circles():
    """The import-linter contracts of pyproject.toml: cli > report > suite > ... > io/paper."""
    lint_imports = shutil.which("lint-imports", path=str(REPO / ".venv" / "bin")) or shutil.which(
        "lint-imports"
    )
    if lint_imports is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    result = subprocess.run([lint_imports, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_modules_are_short():
    long = {
        str(p.relative_to(REPO)): n
        for p in bench_modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


@pytest.mark.slow
def test_every_module_says_what_it_is():
    missing = [
        str(p.relative_to(REPO))
        for p in bench_modules()
        if p.stat().st_size and ast.get_docstring(ast.parse(p.read_text())) is None
    ]
    assert not missing, f"modules without a docstring: {missing}"


def test_no_repository_lookups_through_the_package_path():
    """A non-editable `pip install .` has no repository around the package: paths come from
    the working directory or params, package data from importlib.resources."""
    offenders = [str(p.relative_to(REPO)) for p in bench_modules() if "__file__" in p.read_text()]
    assert not offenders, offenders


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(REPO / ".venv" / "bin")) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    result = subprocess.run(
        [ruff, "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_package_imports_without_the_heavy_libraries():
    """`ssmtl --help` must stay fast: the CLI imports torch, MLflow and friends lazily."""
    code = (
        "import sys, bench.cli; "
        "print(' '.join(m for m in ('torch', 'mlflow', 'optuna', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


def test_every_module_is_mapped_to_the_paper():
    """docs/layout.md names every file of bench/ (a package's __init__.py only re-exports): its
    path, or its folder and name on one line."""
    lines = (REPO / "docs" / "layout.md").read_text().splitlines()

    def mapped(path) -> bool:
        folder, name = f"{path.parent.relative_to(REPO).as_posix()}/", path.name
        return any(folder in line and name in line for line in lines)

    modules = [p for p in bench_modules() if p.name != "__init__.py" or p.parent.name == "cli"]
    unmapped = [str(p.relative_to(REPO)) for p in modules if not mapped(p)]
    assert not unmapped, f"not in docs/layout.md: {unmapped}"
