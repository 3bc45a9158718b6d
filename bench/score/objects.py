"""Object anomaly scores, eq. (6) (paper section 3.4).

An object's score is the mean over the enabled heads of

* T1 the probability that the (forward) test sequence moves backward,
* T2 the probability that the (consecutive) test sequence is intermittent,
* T3 the mean absolute error between the middle crop and its reconstruction,
* T4 the mean absolute difference between the detector's 80 class probabilities and the
  student's prediction of them (the ImageNet teacher is not used at inference).

When the distillation targets hold no detector probabilities (``n_distill == 1000``, the
frame-level variant without a detector, section 3.5) eq. (6)'s T4 term does not exist: by default
(``imagenet_term="none"``) the score is the mean of the other heads; ``"probabilities"`` compares
the student's and the teacher's ImageNet softmax probabilities (bounded, like the detector's),
never the raw logits, which are unbounded and grow with what the frame holds. Either way the T4
head's own score (probabilities) is kept for the per-head diagnosis. The T3 and T4 inputs are the
training tasks' own (:mod:`bench.tasks`).
"""

from __future__ import annotations

import numpy as np
import torch

from bench.errors import InputError, ParameterError
from bench.model import SEQUENCE_TASKS, SSMTL
from bench.paper import COCO_CLASSES, HEAD_SCALE, IMAGENET_CLASSES, TASKS, TRAIN_FRACTION
from bench.progress import progress_bar
from bench.score.fold import fold_batch_norm
from bench.score.heads import HeadStatistics, combine_heads, head_statistics, on_scale
from bench.tasks import distill_input, middle_error, tubes_to_float
from bench.tubes import TubeCache

# On a CPU small batches keep a 3D conv's activations (1.8 MB per shallow_narrow tube) in the
# caches: 8 tubes per batch scored fastest there. GPUs want large batches.
CPU_BATCH_SIZE = 8
CUDA_BATCH_SIZE = 256


def default_batch_size(device: torch.device) -> int:
    """The scoring batch size for ``device`` (see :data:`CPU_BATCH_SIZE`)."""
    return CPU_BATCH_SIZE if device.type == "cpu" else CUDA_BATCH_SIZE


IMAGENET_TERMS = ("none", "probabilities")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def distill_scores(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """T4 score of eq. (6): mean absolute difference between the detector's class probabilities
    and the student's prediction of them (the last 80 columns of both; ``target`` may hold only
    those 80). 1000-column targets (frame level, no detector): the same on the ImageNet softmax
    probabilities of student and teacher."""
    if target.shape[1] == IMAGENET_CLASSES:
        return np.abs(softmax(predicted[:, :IMAGENET_CLASSES]) - softmax(target)).mean(axis=1)
    part = slice(-COCO_CLASSES, None)
    return np.abs(predicted[:, part] - target[:, part]).mean(axis=1)


def score_tasks(
    tasks: tuple[str, ...],
    n_targets: int | None,
    imagenet_term: str = "none",
    drop_heads: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """The heads eq. (6) averages: all enabled ones, except T4 when its targets hold no detector
    probabilities (frame level) and ``imagenet_term`` is ``"none"``, and except ``drop_heads``
    (a deviation: the paper averages every head)."""
    if imagenet_term not in IMAGENET_TERMS:
        raise ParameterError(
            f"imagenet_term must be one of {IMAGENET_TERMS}, got {imagenet_term!r}"
        )
    unknown = sorted(set(drop_heads) - set(TASKS))
    if unknown:
        raise ParameterError(f"drop_heads: unknown heads {unknown}; the heads are {TASKS}")
    no_detector = n_targets == IMAGENET_CLASSES
    kept = tuple(
        t for t in tasks if not (t == "distill" and no_detector and imagenet_term == "none")
    )
    kept = kept or tasks
    left = tuple(t for t in kept if t not in drop_heads)
    if not left:
        raise ParameterError(
            f"drop_heads {list(drop_heads)} leaves no head of {list(kept)} to score with"
        )
    return left


@torch.no_grad()
def batch_scores(
    model: SSMTL, x: torch.Tensor, targets: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Per-head anomaly scores (eq. 6, section 3.4) of forward test sequences ``x``
    ``(B, 3, 2t+1, 64, 64)`` in [0, 1]; ``targets``: the objects' T4 targets ``(B, n)``, n = 1080,
    1000 or the detector's 80 class probabilities alone (see :func:`distill_scores`).

    T1 and T2 read the same sequence, each on its own pass of the 3D CNN with its task's batch
    norm statistics (:meth:`SSMTL.sequence_logits`)."""
    scores: dict[str, np.ndarray] = {}
    if any(task in model.tasks for task in SEQUENCE_TASKS):
        for task, logits in model.sequence_logits(x).items():
            scores[task] = logits.float().softmax(1)[:, 1].cpu().numpy()
    if "middle" in model.tasks:
        scores["middle"] = middle_error(model, x).mean(dim=(1, 2, 3)).cpu().numpy()
    if "distill" in model.tasks:
        predicted = model.distill(distill_input(x)).float().cpu().numpy()
        scores["distill"] = distill_scores(predicted, targets)
    return scores


@torch.no_grad()
def object_scores(
    model: SSMTL,
    cache: TubeCache,
    targets: np.ndarray | None,
    batch_size: int | None = None,
    progress: bool = True,
    imagenet_term: str = "none",
    head_scale: str = HEAD_SCALE,
    stats: HeadStatistics | None = None,
    rows: np.ndarray | None = None,
    desc: str = "score objects",
    drop_heads: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """Per-head anomaly scores and their mean (eq. 6, the heads of :func:`score_tasks`, on the
    ``head_scale`` of :mod:`bench.score.heads`) for the tubes ``rows`` of a cache (default:
    all), ``batch_size`` tubes at a time (default: :func:`default_batch_size` of the model's
    device), by a copy of ``model`` with its batch norm folded (:mod:`bench.score.fold`)."""
    if "distill" in model.tasks and targets is None:
        raise InputError(
            "the distillation head needs targets: the test split's detector class probabilities",
            fix="give --targets from ssmtl teachers --split test --imagenet none",
        )
    device = next(model.parameters()).device
    batch_size = batch_size or default_batch_size(device)
    model = fold_batch_norm(model)
    heads: dict[str, list[np.ndarray]] = {task: [] for task in model.tasks}
    rows_all = np.arange(len(cache)) if rows is None else np.asarray(rows)
    for start in progress_bar(range(0, len(rows_all), batch_size), desc=desc, disable=not progress):
        batch = rows_all[start : start + batch_size]
        x = tubes_to_float(cache.tubes[batch], device)
        target = targets[cache.index["detection_row"][batch]] if "distill" in model.tasks else None
        for task, values in batch_scores(model, x, target).items():
            heads[task].append(values)
    scores = {
        task: np.concatenate(values) if values else np.zeros(0) for task, values in heads.items()
    }
    n_targets = targets.shape[1] if targets is not None else None
    kept = score_tasks(model.tasks, n_targets, imagenet_term, drop_heads)
    scores["score"] = (
        combine_heads(scores, kept, head_scale, stats) if len(rows_all) else np.zeros(0)
    )
    return scores


def validation_statistics(
    model: SSMTL,
    train_cache: TubeCache,
    train_targets: np.ndarray | None,
    progress: bool = True,
    head_scale: str = "zscore_validation",
) -> HeadStatistics:
    """Each head's mean and standard deviation over the validation objects of a training cache
    (the last 15% of each training video, section 4.2), on ``head_scale``'s scale
    (:func:`~bench.score.heads.on_scale`): what that head scale standardises with."""
    _, val_rows = train_cache.train_val_split(TRAIN_FRACTION)
    if not len(val_rows):
        raise InputError(
            "the training tube cache holds no validation objects",
            file=train_cache.root,
            fix="give the training cache the model was trained on (ssmtl tubes --split train)",
        )
    heads = object_scores(
        model,
        train_cache,
        train_targets,
        progress=progress,
        rows=val_rows,
        desc="score validation objects",
    )
    return head_statistics(on_scale({task: heads[task] for task in model.tasks}, head_scale))
