"""Helpers the benchmarks share: percentiles, peak memory, the emulator's raw write rate."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import resource
import statistics
import time


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 of latency samples, in milliseconds."""
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fmt(stats: dict[str, float]) -> str:
    return " ".join(f"{name}={value:.1f}ms" for name, value in stats.items())


RAW_WRITE_DOCS = 5000  # documents per raw-rate measurement
RAW_WRITE_BATCH = 500  # Firestore's most writes a commit
RAW_WRITE_WARMUP_DOCS = 2000  # a fresh emulator's JVM is cold: its first thousands of writes run slow


def raw_write_rates(client, committers=(1, 2, 4), docs: int = RAW_WRITE_DOCS) -> dict[int, float]:
    """The emulator's raw batched-write rate (docs/s) with 1, 2, 4... commits in flight at once.

    Plain 500-document batches of small documents, after an untimed warm-up:
    the ceiling for any bulk writer, and whether parallel commits help.
    """
    stamp = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)

    def write(collection, first: int) -> None:
        batch = client.batch()
        for n in range(first, min(first + RAW_WRITE_BATCH, docs)):
            batch.set(collection.document(f"d{n}"), {"n": n, "at": stamp, "text": "x" * 100})
        batch.commit()

    warmup = client.collection("rawwrites-warmup")
    for first in range(0, RAW_WRITE_WARMUP_DOCS, RAW_WRITE_BATCH):
        write(warmup, first)
    rates = {}
    for workers in committers:
        collection = client.collection(f"rawwrites-{workers}")
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda first, c=collection: write(c, first), range(0, docs, RAW_WRITE_BATCH)))
        rates[workers] = docs / (time.perf_counter() - start)
    return rates
