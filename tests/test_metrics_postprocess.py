"""Score post-processing: Gaussian smoothing and per-video normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import apply_per_video, gaussian_smooth, normalize_per_video, postprocess


def test_sigma_zero_is_identity_copy():
    scores = np.array([0.3, 1.0, -2.0])
    out = gaussian_smooth(scores, 0)
    assert np.array_equal(out, scores) and out is not scores


def test_constant_signal_unchanged():
    assert np.allclose(gaussian_smooth(np.full(50, 0.7), sigma=5), 0.7)


def test_impulse_spreads_symmetrically_and_sums_to_one():
    impulse = np.zeros(101)
    impulse[50] = 1.0
    out = gaussian_smooth(impulse, sigma=3)
    assert out.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.allclose(out[50 - 10 : 50], out[51:61][::-1])
    assert out[50] == out.max() and out[50] < 1.0
    assert np.all(out[50 + 13 :] == 0)  # truncate=4 -> radius int(4 * 3 + 0.5) = 12
    assert out[50 + 12] > 0


def test_smoothing_rejects_negative_sigma_and_nan():
    with pytest.raises(ValueError, match="sigma"):
        gaussian_smooth(np.zeros(3), -1)
    with pytest.raises(ValueError, match="non-finite"):
        gaussian_smooth(np.array([0.0, np.nan]), 1)


def test_normalize_range_and_constant():
    out = normalize_per_video(np.array([2.0, 4.0, 3.0]))
    assert np.allclose(out, [0.0, 1.0, 0.5])
    assert np.array_equal(normalize_per_video(np.full(4, 9.0)), np.zeros(4))


def test_postprocess_smooths_then_normalizes_per_video():
    scores = {"b": np.array([0.0, 0.0, 10.0, 0.0, 0.0]), "a": np.array([5.0, 5.0])}
    out = postprocess(scores, sigma=1.0, normalize=True)
    assert list(out) == ["a", "b"]
    assert np.array_equal(out["a"], np.zeros(2))
    assert out["b"].min() == 0.0 and out["b"].max() == 1.0 and out["b"][2] == 1.0
    assert np.allclose(out["b"], out["b"][::-1])


def test_apply_per_video_names_video_in_errors():
    with pytest.raises(ValueError, match="video x:"):
        apply_per_video(normalize_per_video, {"x": np.array([np.nan])})
