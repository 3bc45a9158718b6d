"""Where the pretrained networks of SSMTL live: the weights lookup.

SSMTL uses two pretrained networks, the YOLOv3 object detector (section 3.1) and the ResNet-50
ImageNet classifier distilled in task 4 (section 3.3). :func:`resolve_weights` finds their
files: an existing path, else the file name in ``$SSMTL_MODELS_DIR`` (default
``~/.cache/ssmtl-bench/models``), else the library's own cache (Ultralytics' ``weights_dir``,
torch hub's ``checkpoints``), else a download by the library's name (``yolov3u.pt``,
``resnet50``) into that folder where there is network; when all fail,
:class:`WeightsNotFoundError` names the file, the folder and the environment variable.

Loading: :func:`load_ultralytics` loads an Ultralytics checkpoint with ``weights_only=True``
against Ultralytics' allow-list of model classes, so a crafted pickle cannot run code; a file
that needs more is refused with :class:`~bench.errors.UnsafeWeightsError` naming the globals it
asks for, unless the user trusts it (``--trust-weights``, :func:`trusting_weights`; a warning
says so). Other loaders (:mod:`bench.teachers.imagenet`, :mod:`bench.train`) read state dicts
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import re
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError, InputError, UnsafeWeightsError

MODELS_ENV = "SSMTL_MODELS_DIR"
DEFAULT_MODELS_DIR = Path("~/.cache/ssmtl-bench/models")
# torchvision file names end in the first hex digits of their SHA-256 (resnet50-11ad3fa6.pth);
# torch hub checks a download against them.
_HASH = re.compile(r"-([a-f0-9]+)\.")


class WeightsNotFoundError(BenchError, FileNotFoundError):
    """Model weights are neither on disk nor downloadable; the message says where we looked."""


def models_dir(env: str = MODELS_ENV) -> Path:
    """``$SSMTL_MODELS_DIR`` or ``~/.cache/ssmtl-bench/models``."""
    return Path(os.environ.get(env) or DEFAULT_MODELS_DIR).expanduser()


def _ultralytics_asset(name: str) -> str | None:
    try:
        from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES
    except ImportError:  # pragma: no cover - ultralytics is a dependency
        return None
    for candidate in (name, f"{name}.pt"):
        if candidate in GITHUB_ASSETS_NAMES:
            return candidate
    return None


def is_torchvision_classifier(name: str) -> bool:
    """Whether ``name`` is a torchvision classification model (``resnet50``)."""
    import torchvision

    return name in torchvision.models.list_models(module=torchvision.models)


def _torchvision_url(name: str) -> str:
    from torchvision.models import get_model_weights

    return get_model_weights(name).DEFAULT.url


def _candidates(name: str) -> list[str]:
    """File names that may hold the weights called ``name``."""
    file_name = Path(name).name
    asset = _ultralytics_asset(file_name)
    if asset is not None:
        return [asset]
    if is_torchvision_classifier(file_name):
        return [f"{file_name}.pth", f"{file_name}.pt", Path(_torchvision_url(file_name)).name]
    return [file_name]


def _library_caches(name: str) -> list[Path]:
    """Where the libraries keep downloaded weights: Ultralytics' ``weights_dir`` for its names,
    torch hub's ``checkpoints`` folder for torchvision names."""
    file_name = Path(name).name
    if _ultralytics_asset(file_name) is not None:
        try:
            from ultralytics.utils import SETTINGS

            return [Path(SETTINGS["weights_dir"])]
        except Exception:  # noqa: BLE001 - a broken settings file must not hide the real error
            return []
    if is_torchvision_classifier(file_name):
        return [Path(torch.hub.get_dir()) / "checkpoints"]
    return []


def _download(name: str, folder: Path) -> Path:
    """Download ``name`` with its library into ``folder``; raises when the library cannot."""
    folder.mkdir(parents=True, exist_ok=True)
    asset = _ultralytics_asset(Path(name).name)
    if asset is not None:
        from ultralytics.utils.downloads import attempt_download_asset

        path = Path(attempt_download_asset(str(folder / asset)))
    elif is_torchvision_classifier(Path(name).name):
        url = _torchvision_url(Path(name).name)
        path = folder / Path(url).name
        match = _HASH.search(path.name)
        torch.hub.download_url_to_file(
            url, str(path), hash_prefix=match.group(1) if match else None
        )
    else:
        raise ValueError("neither Ultralytics nor torchvision knows this name")
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(f"download of {name} produced no file at {path}")
    return path


def resolve_weights(name_or_path: str | Path, env: str = MODELS_ENV, download: bool = True) -> Path:
    """Local path of the weights ``name_or_path``.

    Order: (1) an existing path, as is; (2) the file name in ``$env`` (default
    ``~/.cache/ssmtl-bench/models``), for torchvision names also ``<name>.pth``, ``<name>.pt``
    and torchvision's own file name (``resnet50-11ad3fa6.pth``, a state dict); (3) the library
    cache (Ultralytics ``weights_dir``, ``$TORCH_HOME/hub/checkpoints``); (4) with ``download``,
    names Ultralytics or torchvision know (``yolov3u.pt``, ``resnet50``) are downloaded by the
    library into the ``$env`` folder. Otherwise :class:`WeightsNotFoundError` names the file,
    the folder and the environment variable.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    folder = models_dir(env)
    names, caches = _candidates(str(name_or_path)), _library_caches(str(name_or_path))
    for directory in (folder, *caches):
        for file_name in names:
            if (directory / file_name).is_file():
                return directory / file_name
    reason = "it is not a name Ultralytics or torchvision can download"
    if download and (_ultralytics_asset(path.name) or is_torchvision_classifier(path.name)):
        try:
            return _download(str(name_or_path), folder)
        except Exception as error:  # noqa: BLE001 - no network, HTTP error, bad hash, ...
            reason = f"downloading it failed ({type(error).__name__}: {error})"
    raise WeightsNotFoundError(
        f"model weights {str(name_or_path)!r} not found: no file {', '.join(names)} in {folder} "
        f"(the folder named by ${env}; default {DEFAULT_MODELS_DIR})"
        + (f" or in {', '.join(str(c) for c in caches)}" if caches else "")
        + f", and {reason}. Put the file there, set {env} to the folder holding it, "
        "or pass its path."
    )


# --- loading ------------------------------------------------------------------------------------

TRUST_WEIGHTS: ContextVar[bool] = ContextVar("TRUST_WEIGHTS", default=False)
TRUST_FIX = "if you trust who made the file, pass --trust-weights (it may run code when loaded)"


@contextmanager
def trusting_weights(trust: bool = True) -> Iterator[None]:
    """Within the block, :func:`load_ultralytics` loads files it cannot load safely with
    ``weights_only=False`` (the CLI's ``--trust-weights``)."""
    token = TRUST_WEIGHTS.set(bool(trust))
    try:
        yield
    finally:
        TRUST_WEIGHTS.reset(token)


def refused_globals(path: Path) -> list[str] | None:
    """The globals ``path`` (a ``torch.save`` zip) needs beyond Ultralytics' allow-list; ``None``
    when the file is not such a zip (a bare pickle or not a checkpoint at all)."""
    if not zipfile.is_zipfile(path):
        return None
    from ultralytics.nn.tasks import _SafeLoad

    needed = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    with _SafeLoad.loading(str(path)):  # registers what Ultralytics allows for this file
        allowed = set(_SafeLoad._registry or {})
    return sorted(name for name in needed if name not in allowed)


def load_ultralytics(path: str | Path, trust: bool | None = None, task: str = "detect") -> Any:
    """``ultralytics.YOLO`` of the checkpoint ``path``, loaded with ``weights_only=True`` against
    Ultralytics' allow-list (its ``safe_only`` mode, forced on whatever
    ``$ULTRALYTICS_SAFE_LOAD`` says). A file that this refuses raises
    :class:`~bench.errors.UnsafeWeightsError` naming what it asks for, before any of its code
    runs; with ``trust`` (default: :func:`trusting_weights`) it is loaded the unsafe way, with a
    warning. Any other load failure is an :class:`~bench.errors.InputError` naming the file."""
    import ultralytics.nn.tasks as tasks
    from ultralytics import YOLO

    path = Path(path)
    if trust if trust is not None else TRUST_WEIGHTS.get():
        print(
            f"warning: {path}: loading with weights_only=False (--trust-weights): "
            "the file can run any code",
            file=sys.stderr,
        )
        return YOLO(str(path), task=task)
    if not tasks._SafeLoad.SUPPORTED:  # pragma: no cover - torch < 2.6
        raise UnsafeWeightsError(
            "this torch cannot load Ultralytics checkpoints with weights_only=True",
            file=path,
            fix="upgrade torch to >= 2.6, or " + TRUST_FIX,
        )
    previous = tasks.SAFE_LOAD
    tasks.SAFE_LOAD = True
    try:
        return YOLO(str(path), task=task)
    except Exception as error:  # noqa: BLE001 - tell a refused pickle from a broken file
        raise _load_error(path, error) from error
    finally:
        tasks.SAFE_LOAD = previous


def _load_error(path: Path, error: Exception) -> BenchError:
    try:
        refused = refused_globals(path)
    except Exception:  # noqa: BLE001 - the file is unreadable: report the load's own error
        refused = []
    if refused is None:
        with open(path, "rb") as handle:
            is_pickle = handle.read(1) == b"\x80"  # the PROTO opcode that starts a pickle
        if is_pickle:
            return UnsafeWeightsError(
                f"a bare pickle, not a torch checkpoint; weights_only=True refused it ({error})",
                file=path,
                fix=TRUST_FIX,
            )
    elif refused:
        return UnsafeWeightsError(
            f"refused: it needs {', '.join(refused)}, outside the allow-list of model classes",
            file=path,
            fix=TRUST_FIX,
        )
    return InputError(
        f"cannot load as an Ultralytics YOLO checkpoint ({type(error).__name__}: {error})",
        file=path,
        fix="pass an Ultralytics .pt detection checkpoint (e.g. yolov3u.pt)",
    )


__all__ = [
    "DEFAULT_MODELS_DIR",
    "MODELS_ENV",
    "TRUST_WEIGHTS",
    "WeightsNotFoundError",
    "is_torchvision_classifier",
    "load_ultralytics",
    "models_dir",
    "resolve_weights",
    "trusting_weights",
]
