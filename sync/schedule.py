"""The daemon's periodic jobs, declared in one place with stable ids (SPEC §3).

`max_instances=1` and `coalesce=True`: a pass that runs long is never doubled
and missed runs collapse into one; `replace_existing=True` lets a restarted
process redeclare the same job ids. The first pass starts at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from apscheduler.schedulers.base import BaseScheduler

MISFIRE_GRACE_SECONDS = 60  # a pass that could not start on time still runs within this window


@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], object]
    seconds: int


def jobs(sync_pass: Callable[[], object], interval_seconds: int) -> list[Job]:
    """Every job the daemon runs."""
    return [Job("sync-all-mailboxes", sync_pass, interval_seconds)]


def install(scheduler: BaseScheduler, declared: list[Job], now: dt.datetime | None = None) -> None:
    for job in declared:
        scheduler.add_job(job.func, "interval", seconds=job.seconds, id=job.id, name=job.id,
                          max_instances=1, coalesce=True, replace_existing=True,
                          misfire_grace_time=MISFIRE_GRACE_SECONDS,
                          next_run_time=now or dt.datetime.now(dt.UTC))
