"""Feature drift between a reference sample (training data) and a current one (recent or served data).

Per feature: the population stability index over the reference's quantile bins, and the two-sample
Kolmogorov-Smirnov statistic with its asymptotic p-value. Missing values (NaN) are left out of both
samples and counted. Plain numpy, so every service image can compute it.
"""

import math
from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, Field

DEFAULT_BINS = 10
# Fewer bins for small samples: each bin should expect this many values of the smaller sample, else
# empty bins alone make PSI large on samples drawn from one distribution.
MIN_EXPECTED_PER_BIN = 10
# Added to every bin's count (both samples), so PSI stays finite when a bin is empty.
SMOOTHING_COUNT = 0.5
MIN_SAMPLE = 2


class Histogram(BaseModel, frozen=True):
    """Counts per bin; `edges` are the reference's quantiles, with a bin below and one above them."""

    edges: list[float]
    reference: list[int]
    current: list[int]

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        ref, cur = np.asarray(self.reference, float), np.asarray(self.current, float)
        return ref / max(ref.sum(), 1.0), cur / max(cur.sum(), 1.0)


class FeatureDrift(BaseModel, frozen=True):
    feature: str
    psi: float | None = Field(description="population stability index; None when a sample is too small")
    ks: float | None = Field(description="Kolmogorov-Smirnov statistic (largest gap between the ECDFs)")
    ks_pvalue: float | None
    reference_n: int
    current_n: int
    reference_missing: int
    current_missing: int
    reference_mean: float | None
    current_mean: float | None
    histogram: Histogram | None = None


def _finite(values: np.ndarray) -> tuple[np.ndarray, int]:
    array = np.asarray(values, dtype="float64").reshape(-1)
    keep = np.isfinite(array)
    return array[keep], int((~keep).sum())


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin 0 below the reference minimum, then one bin per quantile interval, last above the maximum."""
    inner = edges[1:-1]
    index = np.searchsorted(inner, values, side="right") + 1
    index[values < edges[0]] = 0
    index[values > edges[-1]] = len(inner) + 2
    return index


def histogram(reference: np.ndarray, current: np.ndarray, bins: int = DEFAULT_BINS) -> Histogram:
    """Counts over the reference's quantile bins (fewer bins when a sample is small)."""
    bins = max(2, min(bins, min(len(reference), len(current)) // MIN_EXPECTED_PER_BIN))
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)))
    size = len(edges[1:-1]) + 3
    counts = [np.bincount(_bin_index(sample, edges), minlength=size) for sample in (reference, current)]
    return Histogram(edges=edges.tolist(), reference=counts[0].tolist(), current=counts[1].tolist())


def psi_from_histogram(hist: Histogram) -> float:
    ref = np.asarray(hist.reference, float) + SMOOTHING_COUNT
    cur = np.asarray(hist.current, float) + SMOOTHING_COUNT
    ref, cur = ref / ref.sum(), cur / cur.sum()
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi(reference: np.ndarray, current: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """Population stability index of `current` against `reference` (NaNs dropped)."""
    ref, _ = _finite(reference)
    cur, _ = _finite(current)
    if len(ref) < MIN_SAMPLE or len(cur) < MIN_SAMPLE:
        raise ValueError(
            f"PSI needs at least {MIN_SAMPLE} values in each sample, got {len(ref)} and {len(cur)}"
        )
    return psi_from_histogram(histogram(ref, cur, bins))


def _kolmogorov_survival(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (the limit of sqrt(n) * D_n)."""
    if x < 0.2:
        return 1.0
    total = sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * x * x) for k in range(1, 101))
    return float(min(1.0, max(0.0, 2.0 * total)))


def ks_2samp(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and its asymptotic p-value (Stephens' small-sample correction)."""
    ref = np.sort(_finite(reference)[0])
    cur = np.sort(_finite(current)[0])
    if len(ref) == 0 or len(cur) == 0:
        raise ValueError("the KS test needs values in both samples")
    pooled = np.concatenate([ref, cur])
    gap = np.abs(
        np.searchsorted(ref, pooled, side="right") / len(ref)
        - np.searchsorted(cur, pooled, side="right") / len(cur)
    )
    statistic = float(gap.max())
    effective = math.sqrt(len(ref) * len(cur) / (len(ref) + len(cur)))
    pvalue = _kolmogorov_survival((effective + 0.12 + 0.11 / effective) * statistic)
    return statistic, pvalue


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def feature_drift(
    name: str, reference: np.ndarray, current: np.ndarray, bins: int = DEFAULT_BINS
) -> FeatureDrift:
    ref, ref_missing = _finite(reference)
    cur, cur_missing = _finite(current)
    common = dict(
        feature=name,
        reference_n=len(ref),
        current_n=len(cur),
        reference_missing=ref_missing,
        current_missing=cur_missing,
        reference_mean=_mean(ref),
        current_mean=_mean(cur),
    )
    if len(ref) < MIN_SAMPLE or len(cur) < MIN_SAMPLE:
        return FeatureDrift(psi=None, ks=None, ks_pvalue=None, **common)
    hist = histogram(ref, cur, bins)
    statistic, pvalue = ks_2samp(ref, cur)
    return FeatureDrift(
        psi=psi_from_histogram(hist), ks=statistic, ks_pvalue=pvalue, histogram=hist, **common
    )


def compare_features(
    reference: Mapping[str, np.ndarray], current: Mapping[str, np.ndarray], bins: int = DEFAULT_BINS
) -> list[FeatureDrift]:
    """Drift of every feature present in both samples, in the reference's order."""
    return [
        feature_drift(name, reference[name], current[name], bins) for name in reference if name in current
    ]
