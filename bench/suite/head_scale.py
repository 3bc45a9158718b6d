"""Issue 16's head-scale suspect: does eq. (6)'s plain mean of heads on different scales cost AUC?

Eq. (6) averages four per-object scores that live on different scales: T1 and T2 are
probabilities in [0, 1], T3 a pixel mean absolute error, T4 a mean absolute difference of class
probabilities. On Ped2 their spreads differ by 30x (T1 0.275, T4 0.009 per-object standard
deviation), so the mean is mostly T1 + T2. This experiment scores one checkpoint's test objects
once and combines the heads several ways through the same maps, filters and evaluation:

- ``eq6``: the paper's plain mean (the default everywhere else);
- ``zscore_validation``: each head standardised with the mean and standard deviation of its
  scores on the *validation* objects (the last 15% of each training video, section 4.2), then
  averaged: a variant that uses no test data, so it could be a faithful option;
- ``log_zscore_validation``: the same after each head goes on a log scale (T1/T2 log-odds, T3/T4
  log errors; :func:`bench.score.heads.on_scale`);
- ``zscore_test``, ``log_zscore_test``: standardised with the test objects' own statistics
  (transductive: a diagnostic of the best a linear rescaling can do, not a method);
- each head alone;
- with ``drop_heads``, every combination again without those heads (``"<name> without
  <heads>"``).
"""

from __future__ import annotations

import numpy as np

from bench.paper import TRAIN_FRACTION
from bench.score import object_scores
from bench.score.heads import HEAD_SCALES, combine_heads, head_statistics, on_scale
from bench.score.objects import score_tasks
from bench.suite.checkpoint_inputs import CheckpointInputs
from bench.suite.convergence import check_same_t, write_auc_rows
from bench.train import load_checkpoint
from bench.tubes import TubeCache


def combined_scores(
    test: dict[str, np.ndarray],
    validation: dict[str, np.ndarray],
    tasks: tuple[str, ...] | None = None,
    drop_heads: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """The object scores of every combination (module docstring) of the heads ``tasks``
    (default: all), again without ``drop_heads`` if given, and of each head alone: each head
    scale of :func:`bench.score.heads.combine_heads` with the validation objects' statistics,
    and the standardised ones again with the test objects' own (``*_test``)."""
    tasks = tuple(test) if tasks is None else tasks
    kept = tuple(t for t in tasks if t not in drop_heads)
    head_sets = {"": tasks}
    if drop_heads and kept:
        head_sets[f" without {', '.join(drop_heads)}"] = kept
    out = {}
    for suffix, heads in head_sets.items():
        out[f"eq6{suffix}"] = combine_heads(test, heads)
        for reference, name in ((validation, "validation"), (test, "test")):
            for scale in HEAD_SCALES[1:]:
                stats = head_statistics(on_scale(reference, scale))
                label = scale.removesuffix("_validation") + f"_{name}{suffix}"
                out[label] = combine_heads(test, heads, scale, stats)
    out.update({f"{task}_alone": values for task, values in test.items()})
    return out


def checkpoint_heads(
    inputs: CheckpointInputs, imagenet_term: str = "none"
) -> tuple[TubeCache, dict[str, np.ndarray], dict[str, np.ndarray], tuple[str, ...]]:
    """The checkpoint's per-head scores of the test objects and of the validation objects of the
    training tubes (the last 15% of each training video, section 4.2), and the heads eq. (6)
    averages (:func:`~bench.score.objects.score_tasks`: at frame level with
    ``imagenet_term="none"``, all but T4): ``(test cache, test, validation, combined)``."""
    checkpoint, train_tubes = inputs.checkpoint, inputs.require_train_tubes()
    model, _, t = load_checkpoint(checkpoint)
    test_cache, train_cache = TubeCache.open(inputs.test_tubes), TubeCache.open(train_tubes)
    for cache in (test_cache, train_cache):
        check_same_t(cache, checkpoint, t)
    load = lambda path: None if path is None else np.load(path, mmap_mode="r")  # noqa: E731
    _, val_rows = train_cache.train_val_split(TRAIN_FRACTION)
    validation = object_scores(
        model, train_cache, load(inputs.train_targets), rows=val_rows, desc="validation objects"
    )
    targets = load(inputs.test_targets)
    test = object_scores(model, test_cache, targets)
    n_targets = None if targets is None else targets.shape[1]
    combined = score_tasks(model.tasks, n_targets, imagenet_term)
    validation, test = ({task: h[task] for task in model.tasks} for h in (validation, test))
    return test_cache, test, validation, tuple(combined)


def head_scale_experiment(
    inputs: CheckpointInputs,
    resamples: int = 1000,
    alpha: float = 0.1,
    beta: float = 0.1,
    imagenet_term: str = "none",
    drop_heads: tuple[str, ...] = (),
) -> dict:
    """Score the checkpoint on the test objects and the validation objects of the training
    tubes (:func:`checkpoint_heads`), evaluate every combination like ``ssmtl evaluate`` and
    write the table to ``inputs.out``. The combinations average the heads eq. (6) averages, and
    again without ``drop_heads``; every head also has its row."""
    test_cache, test, validation, combined = checkpoint_heads(inputs, imagenet_term)
    table: dict = {
        "checkpoint": str(inputs.checkpoint),
        "validation_objects": len(next(iter(validation.values()))),
        "test_objects": len(test_cache),
        "combined_heads": list(combined),
        "dropped_heads": list(drop_heads),
        "head_std": {
            "validation": {k: s for k, (_, s) in head_statistics(validation).items()},
            "test": {k: s for k, (_, s) in head_statistics(test).items()},
        },
        "rows": {},
    }
    candidates = combined_scores(test, validation, combined, drop_heads)
    return write_auc_rows(
        inputs.dataset, test_cache, candidates, inputs.config, table, inputs.out, alpha, beta,
        resamples,
    )  # fmt: skip
