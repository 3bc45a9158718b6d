"""The environment behind the report: what a reader needs to rerun the numbers on the same
footing (results are deterministic for a machine, a thread count and package versions, not
across them; ``docs/reproduce.md``).

Rows of (item, value): the ssmtl version and git commit, Python and the platform, the versions
of the packages the numbers depend on (read from the installed distributions, nothing
imported), the compute device and the CPU thread count of ``params.yaml``, and the hash DVC
records for the real data (``data.dvc``). Package versions and the device are those of the
machine that runs ``ssmtl report``, which in the pipeline is the one that ran the stages.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from bench import tracking
from bench.devices import cpu_name

PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "opencv-python",
    "ultralytics",
    "mlflow",
    "optuna",
    "dvc",
    "matplotlib",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> list[tuple[str, str]]:
    """``(name, version)`` of each installed distribution, ``not installed`` otherwise."""
    found = []
    for name in names:
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            found.append((name, "not installed"))
    return found


def device() -> str:
    """The accelerator torch sees (only when torch is already imported: the report never pays
    for importing it), else the CPU with its core count."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {cpu_name()}, {os.cpu_count()} cores"


def data_hash(dvc_file: Path) -> str:
    """The md5 DVC records for the real data (``data.dvc``), with its size and file count."""
    if not dvc_file.is_file():
        return f"not recorded: no {dvc_file.as_posix()}"
    try:
        outs = (yaml.safe_load(dvc_file.read_text()) or {}).get("outs") or []
    except yaml.YAMLError as err:
        return f"unreadable {dvc_file.as_posix()}: {err}"
    parts = [
        f"{o.get('path', '?')}: md5 {o.get('md5', '?')} ({o.get('nfiles', '?')} files, "
        f"{int(o.get('size', 0)) / 1e6:.1f} MB)"
        for o in outs
    ]
    return "; ".join(parts) or f"not recorded: no outs in {dvc_file.as_posix()}"


def params_setting(params: dict[str, Any] | None, *keys: str) -> str:
    """A setting of ``params.yaml`` by its key path, ``not given`` when absent."""
    value: Any = params or {}
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return "not given"
        value = value[key]
    return str(value)


def environment(params: dict[str, Any] | None, root: Path = Path(".")) -> list[tuple[str, str]]:
    """The environment table's rows (``root``: the checkout holding ``data.dvc``)."""
    commit = tracking.git_commit(root)
    dirty = " (with uncommitted changes)" if tracking.git_dirty(root) else ""
    rows = [
        ("ssmtl", tracking.version_line().removeprefix("ssmtl ")),
        ("git commit", commit + dirty),
        ("python", platform.python_version()),
        ("platform", platform.platform()),
        ("device", device()),
        ("device (params.yaml train.device)", params_setting(params, "train", "device")),
        ("CPU threads (params.yaml threads)", params_setting(params, "threads")),
        ("data (data.dvc)", data_hash(root / "data.dvc")),
    ]
    return rows + [(f"package {name}", got) for name, got in package_versions()]
