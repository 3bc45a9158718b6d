"""Choosing eq. (6)'s heads and head scale on test videos, scored on test videos it did not see.

Issue 16's frame-level deviation leaves T1 out and puts the heads on a log scale because that
did best on Ped2's 12 test videos: a choice made on the data it is then scored on, so its AUC is
optimistic by an unknown amount, and no untouched videos exist here (Avenue and ShanghaiTech
frames are not available). This experiment measures what such a choice is worth on videos it
did not see, by cross-validation over the test videos:

- the candidates are every non-empty subset of eq. (6)'s heads on each head scale that needs no
  test data (:data:`SELECTION_SCALES`): 21 for the frame level's three heads;
- for every split of the test videos into a selection half (``n // 2`` videos) and the held-out
  rest (all ``C(n, n // 2)`` splits, 924 for 12 videos), the candidate with the best micro AUC on
  the selection half is scored on the held-out half, beside fixed rows (eq. 6 as published, the
  named deviation), a baseline's frame scores (the frame difference) and the best candidate on
  the held-out half itself (an upper bound no selection reaches).

The held-out micro AUC of the selected candidate, over all splits, is an honest estimate of the
procedure "choose the heads on test videos" on 6-video test sets; its gap to the fixed
deviation's held-out AUC is how much of the deviation's figure the choice itself bought.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path

import numpy as np

from bench.errors import InputError
from bench.io import read_arrays, write_json
from bench.metrics.evaluate import check_frame_scores
from bench.metrics.frame_auc import frame_auc_micro
from bench.score import frame_sizes, video_frame_scores
from bench.score.heads import HEAD_SCALES, combine_heads, head_statistics, on_scale
from bench.suite.checkpoint_inputs import CheckpointInputs
from bench.suite.head_scale import checkpoint_heads

#: the head scales a selection may use: none reads test statistics
SELECTION_SCALES = HEAD_SCALES
#: the baseline's key among the scored sources (not a candidate: it has nothing to choose)
BASELINE = "(baseline)"


def candidate_name(scale: str, heads: Sequence[str]) -> str:
    """``"<scale> <head>+<head>..."``."""
    return f"{scale} {'+'.join(heads)}"


def selection_candidates(
    test: Mapping[str, np.ndarray], validation: Mapping[str, np.ndarray], heads: Sequence[str]
) -> dict[str, np.ndarray]:
    """The object scores of every non-empty subset of ``heads`` on each of
    :data:`SELECTION_SCALES` (standardised with the validation objects' statistics), largest
    subsets first. A head alone too has a row per scale: the anomaly map's empty background (0)
    and the temporal filter make the frame scores of a head on different scales rank frames
    differently, though the object scores rank alike."""
    stats = {
        scale: head_statistics(on_scale(dict(validation), scale))
        for scale in SELECTION_SCALES
        if scale != "eq6"
    }
    return {
        candidate_name(scale, subset): combine_heads(dict(test), subset, scale, stats.get(scale))
        for size in range(len(heads), 0, -1)
        for subset in combinations(heads, size)
        for scale in SELECTION_SCALES
    }


def video_halves(videos: Sequence[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every split of ``videos`` into a selection half of ``len // 2`` videos and the rest."""
    videos = sorted(videos)
    return [
        (half, tuple(v for v in videos if v not in half))
        for half in combinations(videos, len(videos) // 2)
    ]


def _summary(values: Sequence[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    p05, median, p95 = np.percentile(v, [5, 50, 95])
    return {
        "mean": float(v.mean()),
        "std": float(v.std()),
        "p05": float(p05),
        "median": float(median),
        "p95": float(p95),
    }


def held_out_selection(
    labels: Mapping[str, np.ndarray],
    frame_scores: Mapping[str, Mapping[str, np.ndarray]],
    fixed: Mapping[str, str],
    baseline: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """Cross-validated selection (module docstring). ``frame_scores``: each candidate's frame
    scores by video; ``fixed``: row label -> candidate scored on every held-out half as is;
    ``baseline``: frame scores by video of a method with nothing to choose (the frame
    difference), the row ``baseline``. Returns the held-out micro AUC of the selected
    candidate, of each fixed row, of the baseline and of the held-out half's best candidate
    (summaries over splits), the selected candidate's margin over each of the others, how often
    it beat them and how often each candidate was chosen, and the micro AUC on all videos of
    every candidate and of each fixed row and the baseline (``all_videos_rows``)."""
    missing = sorted(set(fixed.values()) - set(frame_scores))
    if missing:
        raise ValueError(f"fixed rows name unknown candidates {missing}")
    videos = sorted(labels)
    splits = video_halves(videos)
    names = list(frame_scores)
    sources, others = dict(frame_scores), dict(fixed)
    if baseline is not None:
        sources[BASELINE], others["baseline"] = baseline, BASELINE
    memo: dict[tuple[str, tuple[str, ...]], float] = {}

    def micro(name: str, half: tuple[str, ...]) -> float:
        if (name, half) not in memo:
            scores = sources[name]
            memo[name, half] = frame_auc_micro(
                {v: labels[v] for v in half}, {v: scores[v] for v in half}
            )
        return memo[name, half]

    held: dict[str, list[float]] = {"selected": [], **{label: [] for label in others}}
    held["oracle"] = []
    chosen: Counter[str] = Counter()
    for select, rest in splits:
        best = max(names, key=lambda name: micro(name, select))  # the first of equals
        chosen[best] += 1
        held["selected"].append(micro(best, rest))
        for label, name in others.items():
            held[label].append(micro(name, rest))
        held["oracle"].append(max(micro(name, rest) for name in names))
    selected = np.asarray(held["selected"])
    return {
        "videos": videos,
        "splits": len(splits),
        "selection_videos": len(videos) // 2,
        "criterion": "micro AUC on the selection half",
        "candidates": names,
        "fixed": dict(fixed),
        "held_out_auc_micro": {label: _summary(values) for label, values in held.items()},
        "selected_minus": {label: _summary(selected - np.asarray(held[label])) for label in others},
        "selected_wins": {
            label: float(np.mean(selected > np.asarray(held[label]))) for label in others
        },
        "chosen": dict(chosen.most_common()),
        "all_videos_auc_micro": {name: micro(name, tuple(videos)) for name in names},
        "all_videos_rows": {label: micro(name, tuple(videos)) for label, name in others.items()},
    }


def head_selection_experiment(
    inputs: CheckpointInputs,
    imagenet_term: str = "none",
    drop_heads: tuple[str, ...] = (),
    head_scale: str = "log_zscore_validation",
    baseline: Path | None = None,
) -> dict:
    """:func:`held_out_selection` of the checkpoint's candidates (through the maps and filters
    of ``inputs.config``) against eq. (6) as published and the deviation (``head_scale``
    without ``drop_heads``), and the ``baseline`` frame scores if given; written to
    ``inputs.out``."""
    dataset, config = inputs.dataset, inputs.config
    test_cache, test, validation, combined = checkpoint_heads(inputs, imagenet_term)
    kept = tuple(h for h in combined if h not in drop_heads)
    if not kept:
        raise InputError(f"no head is left once {list(drop_heads)} are dropped")
    fixed = {"eq6": candidate_name("eq6", combined)}
    fixed["deviation"] = candidate_name(head_scale, kept)
    sizes = frame_sizes(dataset)
    frame_scores = {
        name: video_frame_scores(test_cache, scores, sizes, config)
        for name, scores in selection_candidates(test, validation, combined).items()
    }
    base = None
    if baseline is not None:
        base = read_arrays(Path(baseline), "baseline frame scores")
        check_frame_scores(base, Path(baseline))
        missing = sorted(set(dataset.test_labels()) - set(base))
        if missing:
            raise InputError(
                f"no frame scores for test videos {missing}",
                file=baseline,
                fix="give the baseline's frame scores of every test video (ssmtl frame-diff)",
            )
    table = {
        "checkpoint": str(inputs.checkpoint),
        "combined_heads": list(combined),
        "deviation": {"head_scale": head_scale, "drop_heads": list(drop_heads)},
        "baseline": None if baseline is None else str(baseline),
        **held_out_selection(dataset.test_labels(), frame_scores, fixed, base),
    }
    write_json(inputs.out, table)
    return table


__all__ = [
    "head_selection_experiment",
    "SELECTION_SCALES",
    "candidate_name",
    "held_out_selection",
    "selection_candidates",
    "video_halves",
]
