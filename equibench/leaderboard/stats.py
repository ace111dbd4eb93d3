"""The interval of a metric over seeds: a Student t-interval, the standard choice for 3 seeds.

With a handful of seeds a bootstrap interval is too narrow (it cannot see beyond the values it
resamples), so the leaderboard uses mean +- t(0.975, n-1) * s / sqrt(n).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import t as student_t

LEVEL = 0.95
METHOD = ("95% Student t-interval over seeds: mean ± t(0.975, n−1)·s/√n (none for a single seed), "
          "clipped to the metric's range (an error never below 0, an accuracy never above 1)")


@dataclass(frozen=True)
class Interval:
    """Mean and 95% interval of one metric over ``n`` seeds (``low``/``high`` None when n = 1)."""

    mean: float
    low: float | None
    high: float | None
    n: int

    @property
    def bounds(self) -> tuple[float, float]:
        """The interval, or the mean itself where there is no interval (one seed)."""
        return (self.mean, self.mean) if self.low is None or self.high is None else (self.low, self.high)

    @property
    def half_width(self) -> float | None:
        """Half the interval's width (None for a single seed)."""
        return None if self.low is None or self.high is None else (self.high - self.low) / 2

    def to_json(self) -> dict[str, float | int | None]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


def t_interval(values: Sequence[float], low: float | None = None, high: float | None = None) -> Interval:
    """The mean of ``values`` and its 95% Student t-interval, clipped to the range [low, high]
    the metric can take: a symmetric interval of a non-negative error near 0 would otherwise
    claim negative errors. (The half-width shown is then half the clipped interval.)"""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return Interval(mean, None, None, n)
    half = float(student_t.ppf(0.5 + LEVEL / 2, n - 1)) * statistics.stdev(values) / math.sqrt(n)
    lo, hi = mean - half, mean + half
    return Interval(mean, lo if low is None else max(lo, low), hi if high is None else min(hi, high), n)
