import numpy as np
import pytest

from mlops_core.drift import compare_features, feature_drift, histogram, ks_2samp, psi


def test_same_distribution_has_small_psi_and_a_shift_has_a_large_one() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 5000)
    assert psi(reference, rng.normal(0, 1, 1000)) < 0.05
    assert psi(reference, rng.normal(1.0, 1, 1000)) > 0.5
    assert psi(reference, rng.normal(0, 3, 1000)) > 0.5  # same mean, wider spread


def test_values_outside_the_reference_range_count_as_drift() -> None:
    """A constant reference has no quantile bins inside it; values beyond it still land in their own bin."""
    assert psi(np.zeros(200), np.zeros(100)) < 0.01
    assert psi(np.zeros(200), np.full(100, 5.0)) > 5
    assert psi(np.zeros(200), np.full(100, -5.0)) > 5


def test_small_samples_use_fewer_bins() -> None:
    rng = np.random.default_rng(1)
    few = histogram(rng.normal(size=1000), rng.normal(size=40))
    many = histogram(rng.normal(size=1000), rng.normal(size=1000))
    # edges: bins + 1 quantiles; counts: a bin below and one above the reference range besides.
    assert len(few.edges) == 5 and len(few.reference) == 6
    assert len(many.edges) == 11 and len(many.reference) == 12
    assert sum(few.current) == 40 and sum(many.reference) == 1000


def test_ks_statistic_and_p_value() -> None:
    statistic, pvalue = ks_2samp(np.arange(10.0), np.arange(10.0))
    assert statistic == 0 and pvalue == 1.0
    statistic, pvalue = ks_2samp(np.arange(100.0), np.arange(100.0) + 1000)
    assert statistic == 1.0 and pvalue < 1e-20
    # Hand-checked: ECDFs of {1,2,3,4} and {3,4,5,6} differ by at most 0.5 (at 2 and at 4).
    statistic, _ = ks_2samp(np.array([1.0, 2, 3, 4]), np.array([3.0, 4, 5, 6]))
    assert statistic == pytest.approx(0.5)


def test_missing_values_are_left_out_and_counted() -> None:
    drift = feature_drift("x", np.array([1.0, 2, 3, np.nan] * 10), np.array([1.0, np.nan, np.inf, 2] * 10))
    assert (drift.reference_n, drift.reference_missing) == (30, 10)
    assert (drift.current_n, drift.current_missing) == (20, 20)
    assert drift.reference_mean == pytest.approx(2.0) and drift.current_mean == pytest.approx(1.5)


def test_too_small_samples_give_no_statistics_instead_of_noise() -> None:
    drift = feature_drift("x", np.arange(100.0), np.array([np.nan, 3.0]))
    assert drift.psi is None and drift.ks is None and drift.current_n == 1
    with pytest.raises(ValueError, match="at least 2 values"):
        psi(np.arange(10.0), np.array([1.0]))


def test_compare_features_covers_features_present_in_both_samples() -> None:
    rng = np.random.default_rng(2)
    reference = {"a": rng.normal(size=500), "b": rng.normal(size=500), "only_training": rng.normal(size=500)}
    current = {"b": rng.normal(2, 1, 300), "a": rng.normal(size=300), "only_served": rng.normal(size=300)}
    drifts = compare_features(reference, current)
    assert [d.feature for d in drifts] == ["a", "b"]
    assert drifts[0].psi < 0.1 < 1.0 < drifts[1].psi
