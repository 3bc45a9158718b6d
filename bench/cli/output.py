"""One way for a command to print its result: text for a person, or, with ``--json``, exactly one
JSON document on stdout for a shell (``ssmtl evaluate ... --json | jq .auc_micro``).

``main`` runs every command inside :func:`json_mode`: with ``--json`` each ``print`` of the
command (progress lines, "wrote FILE") goes to stderr, so stdout carries the document alone and
no command has to remember which of its lines would break a pipe.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from typing import Any, TextIO

#: Where the JSON document goes while json_mode sends prints to stderr (None: not in json mode).
_document_stream: TextIO | None = None


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--json`` flag, spelled and explained the same on every command."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the result as one JSON document on stdout (messages go to stderr)",
    )


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


@contextmanager
def json_mode(enabled: bool) -> Iterator[None]:
    """While enabled, route stdout to stderr and keep the real stdout for :func:`emit`."""
    global _document_stream
    if not enabled:
        yield
        return
    _document_stream = sys.stdout
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        _document_stream = None


def jsonable(value: Any) -> Any:
    """``value`` as strict JSON: NaN and infinities become null (``json.dumps`` would write the
    non-standard ``NaN`` that jq rejects), numpy scalars and arrays numbers and lists, paths
    and other objects their text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)  # paths and the like


def emit(
    args: argparse.Namespace, result: Any, text: str | Callable[[], str] | None = None
) -> None:
    """Print the command's result: the JSON document with ``--json``, else ``text`` (a callable
    is called only when needed; None: the command already printed its lines as it went)."""
    if wants_json(args):
        stream = _document_stream or sys.stdout
        stream.write(json.dumps(jsonable(result), allow_nan=False) + "\n")
        stream.flush()
        return
    if text is not None:
        print(text() if callable(text) else text)


def format_numbers(result: dict[str, Any]) -> str:
    """A flat result one key per line, floats to four places (the default text of :func:`emit`)."""
    return "\n".join(
        f"{key:>18}: {value:.4f}" if isinstance(value, float) else f"{key:>18}: {value}"
        for key, value in result.items()
    )
