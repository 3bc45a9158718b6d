"""The four proxy tasks of section 3.3: each task's input and target, and its loss (eq. 1-5).

Every task starts from the same object-centric sequence ``x``, ``(B, 3, 2t+1, 64, 64)`` floats in
[0, 1] (a cached ``uint8`` tube through :func:`tubes_to_float`), frames ``i-t .. i+t`` in order:

* T1 arrow of time: ``x`` forward (class 0, the paper's "class 1") and reversed (class 1, the
  paper's "class 2"); cross-entropy, eq. (1) (:func:`arrow_samples`).
* T2 motion irregularity: ``x`` consecutive (class 0) and the object's intermittent sequence
  (class 1), sampled when the tubes are cut (:mod:`bench.tubes.windows`); cross-entropy, eq. (2)
  (:func:`motion_samples`).
* T3 middle box: the ``2t`` context frames without the middle one in, the middle crop out; mean
  absolute error, eq. (3) (:func:`middle_context`, :func:`middle_error`).
* T4 distillation: the middle crop alone (temporal size 1, the teachers' input) in, the
  n = 1080 teacher vector (1000 ImageNet logits + 80 detector class probabilities) out; mean
  absolute error, eq. (4) (:func:`distill_input`).

Joint loss eq. (5): ``L1 + L2 + L3 + lambda * L4`` over the enabled tasks (:func:`joint_loss`).
At inference (eq. 6) the T3 score is the same per-object error as eq. (3) and T4 reads the same
middle crop, so :mod:`bench.score` builds them with these functions too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.model import SSMTL


def tubes_to_float(tubes: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """Stored tubes ``(B, 2t+1, 3, 64, 64)`` ``uint8`` as the network's input: ``(B, 3, 2t+1,
    64, 64)`` floats in [0, 1] on ``device`` (moved as ``uint8``, a quarter of the float bytes)."""
    x = torch.from_numpy(np.ascontiguousarray(tubes)).to(device, non_blocking=True)
    return x.permute(0, 2, 1, 3, 4).float().div_(255.0)


def reverse(seq: Any, axis: int = 0) -> Any:
    """T1: the sequence in reversed temporal order, ``(i-t .. i+t)`` becomes ``(i+t .. i-t)``.

    Works on a list/tuple, a numpy array (a view) or a torch tensor, along ``axis``.
    """
    if isinstance(seq, torch.Tensor):
        return torch.flip(seq, dims=(axis,))
    if isinstance(seq, np.ndarray):
        return np.flip(seq, axis=axis)
    return type(seq)(reversed(seq)) if isinstance(seq, (list, tuple)) else seq[::-1]


def middle_context(seq: Any, axis: int = 0) -> tuple[Any, Any]:
    """T3: ``(context, target)``, the sequence without its middle element (``2t`` items) and the
    middle item. Works on a list/tuple, a numpy array or a torch tensor, along ``axis``."""
    n = len(seq) if not isinstance(seq, (np.ndarray, torch.Tensor)) else seq.shape[axis]
    if n < 3 or n % 2 == 0:
        raise ValueError(f"a sequence of odd length >= 3 is needed, got length {n}")
    mid = n // 2
    if isinstance(seq, torch.Tensor):
        before, after = seq.narrow(axis, 0, mid), seq.narrow(axis, mid + 1, mid)
        return torch.cat([before, after], dim=axis), seq.select(axis, mid)
    if isinstance(seq, np.ndarray):
        return np.delete(seq, mid, axis=axis), np.take(seq, mid, axis=axis)
    return seq[:mid] + seq[mid + 1 :], seq[mid]


def distill_input(x: torch.Tensor) -> torch.Tensor:
    """T4: the middle crop of ``(B, 3, 2t+1, 64, 64)`` sequences alone, ``(B, 3, 1, 64, 64)``."""
    t = x.shape[2] // 2
    return x[:, :, t : t + 1]


def two_classes(n: int, device: torch.device) -> torch.Tensor:
    """Labels of T1/T2's ``2n`` samples: ``n`` zeros (forward / consecutive), then ``n`` ones."""
    return torch.cat([torch.zeros(n), torch.ones(n)]).long().to(device)


def arrow_samples(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """T1's ``2B`` samples and labels: ``x`` forward (0), then reversed in time (1)."""
    return torch.cat([x, reverse(x, axis=2)]), two_classes(x.shape[0], x.device)


def motion_samples(
    x: torch.Tensor, intermittent: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """T2's ``2B`` samples and labels: ``x`` consecutive (0), then the intermittent ones (1)."""
    return torch.cat([x, intermittent]), two_classes(x.shape[0], x.device)


def middle_error(model: SSMTL, x: torch.Tensor) -> torch.Tensor:
    """T3: ``|reconstruction - middle crop|`` per pixel, ``(B, 3, 64, 64)``; its mean is eq. (3)'s
    loss, its per-object mean the T3 anomaly score of eq. (6)."""
    context, target = middle_context(x, axis=2)
    return (model.middle(context).float() - target).abs()


def sequence_task_logits(
    model: SSMTL, batch: dict[str, torch.Tensor], tasks: tuple[str, ...]
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """T1/T2 logits and labels of eq. (1)-(2) for the enabled tasks, one shared-CNN pass per task
    so batch norm normalises each task's pair apart (one pass over ``[x, reversed x,
    intermittent x]`` for both was 1.2x faster on CPU but cost the CI gate's ped2_subset 3.9
    points of macro AUC)."""
    x = batch["regular"]
    labels = two_classes(x.shape[0], x.device)
    out = {}
    if "arrow" in tasks:
        out["arrow"] = (model.arrow(arrow_samples(x)[0]), labels)
    if "motion" in tasks:
        out["motion"] = (model.motion(motion_samples(x, batch["intermittent"])[0]), labels)
    return out


def task_losses(
    model: SSMTL, batch: dict[str, torch.Tensor], tasks: tuple[str, ...]
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Losses of eq. (1)-(4) of the enabled ``tasks`` and the validation figures of Table 4
    (correct counts of T1/T2, summed per-object errors of T3/T4). ``batch``: ``regular`` sequences
    ``x``, ``intermittent`` ones (T2) and the ``teacher`` targets (T4)."""
    x = batch["regular"]
    losses, figures = {}, {}
    for task, (logits, labels) in sequence_task_logits(model, batch, tasks).items():
        losses[task] = F.cross_entropy(logits.float(), labels)
        figures[f"correct_{task}"] = float((logits.argmax(1) == labels).sum())
    if "middle" in tasks:
        error = middle_error(model, x)
        losses["middle"] = error.mean()
        figures["abs_middle"] = float(error.detach().mean(dim=(1, 2, 3)).sum())
    if "distill" in tasks:
        error = (model.distill(distill_input(x)).float() - batch["teacher"]).abs()
        losses["distill"] = error.mean()
        figures["abs_distill"] = float(error.detach().mean(dim=1).sum())
    return losses, figures


def joint_loss(losses: dict[str, torch.Tensor], lam: float) -> torch.Tensor:
    """Eq. (5): L_T1 + L_T2 + L_T3 + lambda * L_T4 over the enabled tasks."""
    return sum(lam * loss if task == "distill" else loss for task, loss in losses.items())
