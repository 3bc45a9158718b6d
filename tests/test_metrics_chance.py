"""Chance levels of each AUC convention and bootstrap intervals over videos."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import (
    chance_levels,
    frame_auc_intervals,
    frame_auc_macro_padded,
    frame_auc_micro,
    padded_chance,
)


def test_padded_chance_by_hand():
    # one normal, one abnormal frame: the real pair 1/2; each pad ties the real extreme with
    # probability 1/2 (3/4 each); the two pads 1: (1/2 + 3/4 + 3/4 + 1) / 4
    assert padded_chance(1, 1) == pytest.approx(0.75)
    # all abnormal: only the normal pad is a negative; the lowest real frame ties it
    assert padded_chance(0, 180) == pytest.approx(180.5 / 181)
    assert padded_chance(180, 0) == pytest.approx(180.5 / 181)
    assert padded_chance(1, 0) == 1.0 and padded_chance(0, 1) == 0.75
    with pytest.raises(ValueError, match="needs frames"):
        padded_chance(0, 0)


@pytest.mark.slow
def test_chance_levels_match_random_scorers():
    rng = np.random.default_rng(0)
    labels = {
        "a": np.r_[np.zeros(30), np.ones(10)].astype(int),
        "b": np.ones(25, int),  # all abnormal
        "c": np.r_[np.zeros(5), np.ones(40)].astype(int),
    }
    chance = chance_levels(labels)
    draws = [{k: rng.random(len(y)) for k, y in labels.items()} for _ in range(3000)]
    padded = np.mean([frame_auc_macro_padded(labels, s) for s in draws])
    micro = np.mean([frame_auc_micro(labels, s) for s in draws])
    assert chance["auc_macro_padded"] == pytest.approx(padded, abs=0.005)
    assert chance["auc_macro_padded"] > 0.6  # the all-abnormal video pulls it up
    assert chance["auc_micro"] == 0.5 and micro == pytest.approx(0.5, abs=0.005)
    assert chance["auc_macro_strict"] == 0.5
    assert chance_levels({"b": np.ones(5, int)})["auc_macro_strict"] is None


@pytest.mark.slow
def test_bootstrap_interval_covers_the_population_auc():
    """Videos drawn from one population (per-video AUC varies): the 95% interval of the padded
    macro and the micro AUC covers the population value in about 95% of test sets."""
    rng = np.random.default_rng(1)
    hits = {"auc_micro": 0, "auc_macro_padded": 0}
    truth = {}

    # the population: many videos, their pooled and padded-mean AUC
    def video():
        n0, n1 = rng.integers(20, 60), rng.integers(5, 40)
        shift = rng.normal(1.0, 0.6)
        y = np.r_[np.zeros(n0), np.ones(n1)].astype(int)
        return y, rng.normal(0, 1, n0 + n1) + shift * y

    population = [video() for _ in range(3000)]
    pop_labels = {f"{i}": y for i, (y, _) in enumerate(population)}
    pop_scores = {f"{i}": s for i, (_, s) in enumerate(population)}
    truth["auc_micro"] = frame_auc_micro(pop_labels, pop_scores)
    truth["auc_macro_padded"] = frame_auc_macro_padded(pop_labels, pop_scores)
    trials = 100
    for trial in range(trials):
        pick = rng.choice(len(population), 15, replace=False)
        labels = {f"{i}": population[i][0] for i in pick}
        scores = {f"{i}": population[i][1] for i in pick}
        ci = frame_auc_intervals(labels, scores, resamples=200, seed=trial)
        for key in hits:
            hits[key] += ci[key]["low"] <= truth[key] <= ci[key]["high"]
    for key, count in hits.items():
        assert 0.85 * trials <= count < trials, (key, count)  # neither too narrow nor too wide


@pytest.mark.shared
def test_ped2_padded_macro_chance_is_68_percent(ped2_root):
    """Ped2's test videos 08-11 have no normal frame: their padded AUC is ~1 for any scorer."""
    from bench.data import open_dataset

    labels = open_dataset("ped2", ped2_root).test_labels()
    assert sorted(k for k, y in labels.items() if y.all()) == ["08", "09", "10", "11"]
    assert chance_levels(labels)["auc_macro_padded"] == pytest.approx(0.684, abs=0.001)
