"""Saved segments: a rep's filters over the tenant's contacts, their counts and their pages.

Storage (the repository's `list_segments`, `save_segment`, `segment_contacts`,
`count_segment`...): one document per rep, `tenants/{tenant}/reps/{rep}`,
holding `segments: {segment_id: {...}}`, so the home page lists a rep's
segments with one `get` (a query on a subcollection would cost time in
proportion to the whole database on the emulator; see `models.repository`).

Evaluation is a Firestore query on `contacts`: equalities for the tag
(`array_contains`), stage, owner, company and custom values, `merged_into ==
null` to leave merge aliases out, and for an activity window a range on
`last_activity_at` ordered by it ("inactive": longest-neglected first, never
touched first of all; "active": most recent first). Without a window the order
is the document id, which needs no composite index (equality-only queries are
served by merging single-field indexes). A relationship signal (issue 17: waiting
on us or on them, going cold, strength at least N) is a range on the moment the
contact keeps of it (`Repository.refresh_signals`), compared with now and the
tenant's thresholds when the query runs, ordered by it, with the same
`(field, moment)` indexes shipped; a segment has a signal or an activity window,
never both (one range a query). With a window, `firestore.indexes.json`
ships one `(field, last_activity_at)` index per standard filter field, which
Firestore's index merging combines for any mix of them. A custom-field value
combined with an activity window needs its own `(custom.<key>,
last_activity_at)` index; field keys are the tenant's, so that index is
created by the operator when such a segment is first refused (the error names
it) rather than shipped here.

Counts: a query costs 300-600 ms against the emulator at 10,000 contacts
(measured by `bench/search.py`), so the home page never counts. It shows the
count cached on the segment (`count`, `counted_at`), refreshed by a Firestore
`count()` aggregation whenever the rep opens the segment or saves it, and by
the home page's "Refresh counts" (all of a rep's segments counted in parallel).
Pages are `PAGE_SIZE` contacts with an opaque cursor (the last contact id; its
snapshot is read back to resume after it), so paging never skips or repeats.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor

from models.domain import LIFECYCLE_STAGES, SEGMENT_SIGNALS, Contact, Segment, utcnow
from models.repository import Repository, new_id

PAGE_SIZE = 20  # contacts on one page of a segment's list
SEGMENTS_MAX = 20  # a rep's saved segments (each is a row on the home page)
SEGMENT_NAME_MAX = 60
ACTIVITY_DAYS_MAX = 3650
COUNT_WORKERS = 4  # counts run in parallel: each is a separate aggregation query
CURSOR_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # contact ids are ours: "c" + hex, or new_id()


def list_segments(repo: Repository, rep: str) -> list[Segment]:
    """A rep's segments, oldest first (one get)."""
    return repo.list_segments(rep)


def get_segment(repo: Repository, rep: str, segment_id: str) -> Segment | None:
    return next((s for s in list_segments(repo, rep) if s.id == segment_id), None)


def save_segment(repo: Repository, rep: str, segment: Segment) -> Segment:
    """Write one segment (a field-level merge: the rep's other segments are untouched)."""
    return repo.save_segment(rep, segment)


def delete_segment(repo: Repository, rep: str, segment_id: str) -> None:
    repo.delete_segment(rep, segment_id)


def new_segment_id() -> str:
    return new_id("s")


def describe(segment: Segment) -> str:
    """The filters in a rep's words: "tag vip · stage Customer · no touch in 30 days"."""
    parts = []
    if segment.tag:
        parts.append(f"tag {segment.tag}")
    if segment.lifecycle_stage:
        parts.append(f"stage {LIFECYCLE_STAGES.get(segment.lifecycle_stage, segment.lifecycle_stage)}")
    if segment.owner:
        parts.append(f"owner {segment.owner}")
    if segment.company_id:
        parts.append(f"company {segment.company_id}")
    if segment.activity_days and segment.activity_mode == "inactive":
        parts.append(f"no touch in {segment.activity_days} days")
    elif segment.activity_days and segment.activity_mode == "active":
        parts.append(f"touched in the last {segment.activity_days} days")
    if segment.signal == "strength":
        parts.append(f"strength at least {segment.strength_at_least or 0}")
    elif segment.signal:
        parts.append(SEGMENT_SIGNALS.get(segment.signal, segment.signal))
    parts.extend(f"{key} = {value}" for key, value in sorted(segment.custom.items()))
    return " · ".join(parts) or "every contact"


# --- evaluation ---------------------------------------------------------------------------

@dataclasses.dataclass
class SegmentPage:
    contacts: list[Contact]
    next_cursor: str | None


def page(repo: Repository, segment: Segment, cursor: str | None = None, size: int = PAGE_SIZE,
         now: dt.datetime | None = None) -> SegmentPage:
    """One page of a segment's contacts; ValueError for a cursor we did not make."""
    if cursor and not CURSOR_PATTERN.match(cursor):
        raise ValueError("invalid segment cursor")
    found = repo.segment_contacts(segment, cursor, size + 1, now)
    contacts = found[:size]
    return SegmentPage(contacts, contacts[-1].id if len(found) > size else None)


def count(repo: Repository, segment: Segment, now: dt.datetime | None = None) -> int:
    """How many contacts match, by a Firestore `count()` aggregation (no documents read)."""
    return repo.count_segment(segment, now)


def refresh_counts(repo: Repository, rep: str, segments: list[Segment]) -> list[Segment]:
    """Count every segment (in parallel) and cache the counts on the rep's document in one write."""
    if not segments:
        return segments
    with ThreadPoolExecutor(max_workers=min(COUNT_WORKERS, len(segments))) as pool:
        counts = list(pool.map(lambda s: count(repo, s), segments))
    now = utcnow()
    for segment, value in zip(segments, counts, strict=True):
        segment.count, segment.counted_at = value, now
    store_counts(repo, rep, segments)
    return segments


def store_counts(repo: Repository, rep: str, segments: list[Segment]) -> None:
    """Cache counts with a field-level merge, so a segment deleted meanwhile is not brought back."""
    repo.store_segment_counts(rep, segments)
