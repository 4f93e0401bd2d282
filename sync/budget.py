"""The project's Google budgets shared by every process: per-minute and per-day usage in Firestore.

Google meters Gmail and Calendar per Cloud project as well as per user (`quotas`):
a per-minute budget and a daily threshold (2026: 80,000,000 Gmail units, 1,000,000
Calendar requests, resetting at midnight Pacific). Every process syncing the
project (`python -m sync once|run`, the Pub/Sub workers) spends from them, so a
process-local window cannot keep their sum within bounds. `ProjectBudget` does,
without a transaction (the emulator stalls on contended ones):

- usage documents (`Repository.quota_usage` names them: `sidecar/quota/usage/...`)
  per API, per bucket of `window / buckets_per_window` seconds and per Pacific
  day, each split in `shards` (a process writes its own shard, so no document
  takes more than one process's writes);
- a process spends from a *grant* of at most `grant_share` of the minute's
  budget (2%: 24,000 Gmail units at 1,200,000 a minute; twice what its last
  grant saw spent, so an idle process holds little), reserved by one batch
  that `Increment`s its bucket and its day (the unspent rest of the previous
  grant given back in the same batch), then read back: when the buckets the
  sliding minute can reach (a grant is spent within `grant_seconds`) or the day
  now hold more than the budget allows, the grant is withdrawn (another
  `Increment`) and the caller waits for the next bucket. Increment first, read
  after: of two processes reserving at once, the later sees both, so the sum
  never goes over (at worst both step back);
- priority: incremental calls (priority 0) may use the whole day; backfill
  groups (priority > 0) get no grant once the day's usage passes
  `backfill_day_share` (80%) — they raise `BackfillPaused` and the backfill
  stops starting groups (`open_for_backfill`), resuming from its cursor on a
  later pass or day. At the day's limit every grant is refused with
  `DailyBudgetSpent`: nothing crosses it, nothing retries `dailyLimitExceeded`.

Writes: one commit a grant (two when withdrawn). A grant lives one bucket (5 s
of Google's minute), so a process that spends without pause commits at most
12 times a minute per API below 288,000 units a minute, and spend / 24,000
times above (50 at the whole project rate); an idle process, never. Reads: one
`get_all` of the reachable buckets' (16 of them) and the day's shards per grant.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import threading
import time
import zoneinfo

from google.cloud import firestore

from models import encoding
from models.repository import quota_usage
from quotas import QuotaProfile
from sync.api import Stopped

DAY_TZ = zoneinfo.ZoneInfo("America/Los_Angeles")  # Google resets daily quotas at midnight Pacific time
GRANT_SHARE = 0.02  # a grant: this share of the minute's project budget
BACKFILL_DAY_SHARE = 0.8  # backfill groups start only below this share of the day's budget
BUCKETS_PER_WINDOW = 12  # a usage bucket: the window (Google's minute) / this
SHARDS = 4
HEADROOM = 0.98  # as `sync.api.QUOTA_HEADROOM`: a clock step never tips a budget over
WINDOW_MARGIN_SECONDS = 1.0  # as `sync.api.QUOTA_WINDOW_MARGIN_SECONDS`
GRANT_START_CALLS = 4  # a process's first grant: this many calls like the first, then grown (`_next_grant`)
OPEN_CACHE_SECONDS = 5.0  # `open_for_backfill` reads the day at most this often
# A refused reservation tries again after a random share of a bucket, between these two (on average half a
# bucket, as it always waited): processes that reserved at once all see each other's increments and all step
# back, and waiting the same time they came back together and stepped back again, in step (two syncs sharing
# a budget in tests/sync/test_project_budget.py took 30-240 s); drawn apart, the next one alone gets through.
RETREAT_SHORTEST = 0.25
RETREAT_LONGEST = 0.75


class BudgetStopped(Stopped):
    """Base of the budget's refusals: the pass stops what it was doing, what is committed stays."""


class BackfillPaused(BudgetStopped):
    """The day's usage passed the backfill share: backfill groups wait for a later pass or day."""


class DailyBudgetSpent(BudgetStopped):
    """The project's daily budget for the API is spent until midnight Pacific."""


@dataclasses.dataclass
class _Grant:
    units: int
    left: int
    expires: float
    refs: tuple  # the bucket and day documents it was counted in


class ProjectBudget:
    """The per-minute and per-day project budgets of a quota profile, shared through Firestore (module doc)."""

    def __init__(self, client: firestore.Client, quota: QuotaProfile, *, grant_share: float = GRANT_SHARE,
                 backfill_day_share: float = BACKFILL_DAY_SHARE, buckets_per_window: int = BUCKETS_PER_WINDOW,
                 shards: int = SHARDS, wall_clock=time.time, rng: random.Random | None = None):
        self.client = client
        self.quota = quota
        self.grant_share = grant_share
        self.backfill_day_share = backfill_day_share
        self.bucket_seconds = quota.window_seconds / buckets_per_window
        self.grant_seconds = self.bucket_seconds  # a grant not spent by then is given back
        self.shards = shards
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()
        self.shard = self.rng.randrange(shards)
        self._document = quota_usage(client)
        self._locks = {api: threading.Lock() for api in ("gmail", "calendar")}
        self._grants: dict[str, _Grant | None] = {"gmail": None, "calendar": None}
        self._open: dict[str, tuple[float, bool]] = {}
        self.commits = 0  # Firestore commits (the benchmark and tests count them)
        self.refused = 0

    # --- layout of the usage documents (names only; the repository owns the path)
    def _bucket_name(self, api: str, bucket: int, shard: int) -> str:
        return f"{api}-minute-{self.bucket_seconds:g}-{bucket}-{shard}"

    def day(self, now: float | None = None) -> str:
        """The Pacific date of `now` (default: the wall clock), as Google's daily quota counts it."""
        return dt.datetime.fromtimestamp(self.wall_clock() if now is None else now, DAY_TZ).date().isoformat()

    def _day_name(self, api: str, day: str, shard: int) -> str:
        return f"{api}-day-{day}-{shard}"

    # --- reading
    def used_today(self, api: str = "gmail") -> int:
        day = self.day()
        refs = [self._document(self._day_name(api, day, s)) for s in range(self.shards)]
        return sum(self._units(refs).values())

    def _units(self, refs: list) -> dict[str, int]:
        """The units counted in each existing document of `refs`, by id: one read, of that field alone,
        decoded from the raw protobuf (`models.encoding.batch_get`: a grant reads some 60 of them)."""
        return {doc.id: doc.to_dict().get("units", 0) for doc in encoding.batch_get(self.client, refs, ["units"])}

    def open_for_backfill(self, api: str = "gmail") -> bool:
        """Whether a backfill group may start: the day's usage is below the backfill share (cached briefly)."""
        daily = self.quota.per_project_day(api)
        if not daily:
            return True
        now = time.monotonic()
        at, is_open = self._open.get(api, (-math.inf, True))
        if now - at >= OPEN_CACHE_SECONDS:
            is_open = self.used_today(api) < daily * self.backfill_day_share * HEADROOM
            self._open[api] = (now, is_open)
        return is_open

    # --- spending
    def spend(self, api: str, units: int, priority: int, stop: threading.Event) -> None:
        """Take `units` from the process's grant, reserving a new one when it is spent or expired. While
        the minute is full it waits (returning unserved once `stop` is set: the caller checks it); past the
        day's shares it raises `BackfillPaused` (priority > 0) or `DailyBudgetSpent`."""
        minute = self.quota.per_project_minute(api)
        if not minute:
            return
        with self._locks[api]:
            asked = None
            while not stop.is_set():
                grant = self._grants[api]
                if grant is not None and grant.expires > self.wall_clock() and grant.left >= units:
                    grant.left -= units
                    return
                asked = self._next_grant(api, units, minute) if asked is None else units
                if self._reserve(api, asked, units, priority > 0):
                    self._grants[api].left -= units
                    return
                if asked == units:  # a smaller grant is tried at once, a refused minimum after a retreat
                    stop.wait(self.bucket_seconds * self.rng.uniform(RETREAT_SHORTEST, RETREAT_LONGEST))

    def _next_grant(self, api: str, units: int, minute: int) -> int:
        """The size of the next grant: twice what the last one saw spent (so an idle process holds little of
        the minute and a busy one grows to the full block in a few grants), at least `units`."""
        last = self._grants[api]
        spent = GRANT_START_CALLS * units if last is None else last.units - last.left
        return max(units, min(int(minute * self.grant_share), 2 * spent))

    def _reserve(self, api: str, units: int, minimum: int, backfill: bool) -> bool:
        now = self.wall_clock()
        bucket, day = int(now // self.bucket_seconds), self.day(now)
        mine = (self._document(self._bucket_name(api, bucket, self.shard)),
                self._document(self._day_name(api, day, self.shard)))
        batch = self.client.batch()
        old = self._grants[api]
        if old is not None and old.left:  # the unspent rest goes back where it was counted
            for ref in old.refs:
                batch.set(ref, {"units": firestore.Increment(-old.left)}, merge=True)
            old.units -= old.left
            old.left = 0
        for ref in mine:
            batch.set(ref, {"units": firestore.Increment(units)}, merge=True)
        batch.commit()
        self.commits += 1
        reach = self.quota.window_seconds + WINDOW_MARGIN_SECONDS + self.grant_seconds
        first = int((now - reach) // self.bucket_seconds)
        minute_refs = [self._document(self._bucket_name(api, b, s))
                       for b in range(first, bucket + 1) for s in range(self.shards)]
        day_refs = [self._document(self._day_name(api, day, s)) for s in range(self.shards)]
        used = self._units(minute_refs + day_refs)
        minute_used = sum(used.get(ref.id, 0) for ref in minute_refs)
        day_used = sum(used.get(ref.id, 0) for ref in day_refs)
        daily = self.quota.per_project_day(api)
        day_limit = daily * HEADROOM * (self.backfill_day_share if backfill else 1.0)
        over_day = bool(daily) and day_used > day_limit
        self._grants[api] = dataclasses.replace(old, refs=()) if old is not None else None  # (given back)
        if minute_used <= self.quota.per_project_minute(api) * HEADROOM and not over_day:
            self._grants[api] = _Grant(units, units, now + self.grant_seconds, mine)
            return True
        batch = self.client.batch()  # withdrawn
        for ref in mine:
            batch.set(ref, {"units": firestore.Increment(-units)}, merge=True)
        batch.commit()
        self.commits += 1
        self.refused += 1
        if over_day and day_used - units + minimum > day_limit:  # not even this call fits today
            if backfill:
                raise BackfillPaused(f"{api}: {day_used - units} of {daily} units today")
            raise DailyBudgetSpent(f"{api}: {day_used - units} of {daily} units today")
        return False

    def close(self) -> None:
        """Give back what is left of the grants (a process that stops)."""
        for api, lock in self._locks.items():
            with lock:
                grant = self._grants[api]
                if grant is not None and grant.left:
                    batch = self.client.batch()
                    for ref in grant.refs:
                        batch.set(ref, {"units": firestore.Increment(-grant.left)}, merge=True)
                    batch.commit()
                    self.commits += 1
                self._grants[api] = None
