"""The trained model as an MLflow model (:func:`log_model`), loadable with
``mlflow.pytorch.load_model``; nothing with tracking off (``SSMTL_TRACKING=off``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.tracking_store import tracking_enabled


def log_model(model: Any, example: Any, output: Any = None, name: str = "model") -> Any:
    """Log a torch ``model`` to the active run with a signature (``example`` -> ``output``,
    tensors or arrays; ``output`` defaults to ``model(example)``) and ``example`` as its input
    example, so ``mlflow.pytorch.load_model(f"runs:/{run_id}/{name}")`` returns it. Returns
    MLflow's model info.

    A model whose ``forward`` takes the input alone is saved as a ``torch.export`` program
    (MLflow's default, ``pt2``: loading runs no pickled code); one that takes more (SSMTL's
    ``forward(x, task)``) cannot be exported from one input and is pickled, which loads back as
    the same module (its code, ``bench``, must be importable). Such a model cannot serve through
    MLflow's pyfunc ``predict(x)`` (it needs the task too): MLflow's warning that its input
    example does not serve is silenced."""
    if not tracking_enabled():
        return None
    import inspect

    import mlflow.pytorch
    import numpy as np
    from mlflow.models import infer_signature

    def array(value: Any) -> Any:
        return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)

    if output is None:
        with _no_grad():
            output = model(example)
    arguments = inspect.signature(model.forward).parameters
    single = sum(p.default is inspect.Parameter.empty for p in arguments.values()) == 1
    inputs = array(example)
    # pyfunc's predict(x) cannot answer a forward(x, task): silence the warning for such models
    quiet = logging.getLogger("mlflow.models.model")
    level = quiet.level
    quiet.setLevel(level if single else logging.ERROR)
    try:
        return mlflow.pytorch.log_model(
            model,
            name=name,
            signature=infer_signature(inputs, array(output)),
            input_example=inputs,
            serialization_format="pt2" if single else "pickle",
        )
    finally:
        quiet.setLevel(level)


@contextmanager
def _no_grad() -> Iterator[None]:
    import torch

    with torch.no_grad():
        yield
