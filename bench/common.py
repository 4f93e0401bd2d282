"""Helpers the benchmarks share: percentiles, peak memory, an emulator for the run."""

from __future__ import annotations

import resource
import statistics


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 of latency samples, in milliseconds."""
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fmt(stats: dict[str, float]) -> str:
    return " ".join(f"{name}={value:.1f}ms" for name, value in stats.items())
