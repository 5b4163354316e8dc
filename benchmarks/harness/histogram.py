"""A mergeable latency histogram with logarithmic buckets of about 1%."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# Each bucket covers values up to 1% above its lower bound, so a percentile
# read from the histogram is within 1% of the measured value.
GROWTH = 1.01
LOG_GROWTH = math.log(GROWTH)


@dataclass
class Histogram:
    """Counts of latencies in microseconds, plus the exact maximum."""

    counts: dict[int, int] = field(default_factory=dict)
    total: int = 0
    max_us: float = 0.0

    def record(self, latency_us: float) -> None:
        bucket = int(math.log(max(latency_us, 1.0)) / LOG_GROWTH)
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self.total += 1
        self.max_us = max(self.max_us, latency_us)

    def merge(self, other: Histogram) -> None:
        for bucket, count in other.counts.items():
            self.counts[bucket] = self.counts.get(bucket, 0) + count
        self.total += other.total
        self.max_us = max(self.max_us, other.max_us)

    def percentile(self, percent: float) -> float:
        """Return the latency in microseconds below which `percent` % fall.

        The value is the upper bound of the bucket that contains that rank, and
        never more than the exact maximum; an empty histogram gives 0.
        """
        if self.total == 0:
            return 0.0
        rank = math.ceil(self.total * percent / 100)
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return min(GROWTH ** (bucket + 1), self.max_us)
        return self.max_us

    def summary_ms(self) -> dict[str, float]:
        """Return p50, p90, p99, p99.9 and max in milliseconds."""
        figures = {
            f"p{label}": self.percentile(percent) / 1000
            for label, percent in (("50", 50), ("90", 90), ("99", 99), ("99_9", 99.9))
        }
        figures["max"] = self.max_us / 1000
        return figures

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "total": self.total, "max_us": self.max_us}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        counts = {int(bucket): int(count) for bucket, count in data["counts"].items()}
        return cls(
            counts=counts, total=int(data["total"]), max_us=float(data["max_us"])
        )
