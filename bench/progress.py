"""Progress bars, one way for every stage: tqdm on stderr (stdout stays for results and
``--json``), shown on a terminal and silent when stderr is not one (CI logs, ``dvc repro`` piped
to a file), where a bar redrawn a thousand times would bury the messages that matter."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm as _tqdm


def progress_bar(*args: Any, **kwargs: Any) -> _tqdm:
    """``tqdm(*args, **kwargs)`` on stderr, off unless stderr is a terminal; an explicit
    ``disable=True`` (a caller's ``progress=False``) still turns it off."""
    if not kwargs.get("disable"):
        kwargs["disable"] = None  # tqdm's "auto": off when the stream is not a TTY
    return _tqdm(*args, **kwargs)
