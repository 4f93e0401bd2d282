"""Saved segments: a rep's filters over the tenant's contacts, their counts and their pages.

Storage: one document per rep, `tenants/{tenant}/reps/{rep}`, holding
`segments: {segment_id: {...}}`, so the home page lists a rep's segments with
one `get` (a query on a subcollection would cost time in proportion to the
whole database on the emulator; see `models.repository`).

Evaluation is a Firestore query on `contacts`: equalities for the tag
(`array_contains`), stage, owner, company and custom values, `merged_into ==
null` to leave merge aliases out, and for an activity window a range on
`last_activity_at` ordered by it ("inactive": longest-neglected first, never
touched first of all; "active": most recent first). Without a window the order
is the document id, which needs no composite index (equality-only queries are
served by merging single-field indexes). With a window, `firestore.indexes.json`
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
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter, Or

from models.domain import LIFECYCLE_STAGES, SEGMENT_ACTIVITY_MODES, Contact, Segment, utcnow
from models.repository import Repository, contact_from_doc, doc_id, from_epoch, new_id, to_epoch

PAGE_SIZE = 20  # contacts on one page of a segment's list
SEGMENTS_MAX = 20  # a rep's saved segments (each is a row on the home page)
SEGMENT_NAME_MAX = 60
ACTIVITY_DAYS_MAX = 3650
COUNT_WORKERS = 4  # counts run in parallel: each is a separate aggregation query
CURSOR_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # contact ids are ours: "c" + hex, or new_id()


def rep_ref(repo: Repository, rep: str):
    return repo.root.collection("reps").document(doc_id(rep))


def segment_to_doc(segment: Segment) -> dict[str, Any]:
    data = dataclasses.asdict(segment)
    data.pop("id")
    data["counted_at"] = to_epoch(segment.counted_at)
    return data


def segment_from_doc(segment_id: str, data: dict[str, Any]) -> Segment:
    names = {f.name for f in dataclasses.fields(Segment)} - {"id"}
    values = {k: v for k, v in data.items() if k in names}
    values["counted_at"] = from_epoch(values.get("counted_at"))
    return Segment(id=segment_id, **values)


def segments_in(rep_doc: dict[str, Any] | None) -> list[Segment]:
    """The segments a rep document holds, oldest first."""
    raw = (rep_doc or {}).get("segments") or {}
    return sorted((segment_from_doc(sid, data) for sid, data in raw.items()), key=lambda s: (s.created_at, s.id))


def list_segments(repo: Repository, rep: str) -> list[Segment]:
    """A rep's segments, oldest first (one get)."""
    snapshot = rep_ref(repo, rep).get()
    return segments_in(snapshot.to_dict() if snapshot.exists else None)


def get_segment(repo: Repository, rep: str, segment_id: str) -> Segment | None:
    return next((s for s in list_segments(repo, rep) if s.id == segment_id), None)


def save_segment(repo: Repository, rep: str, segment: Segment) -> Segment:
    """Write one segment (a field-level merge: the rep's other segments are untouched)."""
    rep_ref(repo, rep).set({"segments": {segment.id: segment_to_doc(segment)}}, merge=True)
    return segment


def delete_segment(repo: Repository, rep: str, segment_id: str) -> None:
    rep_ref(repo, rep).set({"segments": {segment_id: firestore.DELETE_FIELD}}, merge=True)


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
    parts.extend(f"{key} = {value}" for key, value in sorted(segment.custom.items()))
    return " · ".join(parts) or "every contact"


# --- evaluation ---------------------------------------------------------------------------

def query(repo: Repository, segment: Segment, now: dt.datetime | None = None):
    """The Firestore query for a segment's contacts, ordered as its list shows them (module doc)."""
    q = repo.root.collection("contacts").where(filter=FieldFilter("merged_into", "==", None))
    if segment.tag:
        q = q.where(filter=FieldFilter("tags", "array_contains", segment.tag))
    for field in ("lifecycle_stage", "owner", "company_id"):
        value = getattr(segment, field)
        if value:
            q = q.where(filter=FieldFilter(field, "==", value))
    for key, value in sorted(segment.custom.items()):
        q = q.where(filter=FieldFilter(f"custom.{key}", "==", value))
    if segment.activity_mode in SEGMENT_ACTIVITY_MODES and segment.activity_days:
        cutoff = to_epoch((now or utcnow()) - dt.timedelta(days=segment.activity_days))
        if segment.activity_mode == "inactive":
            q = q.where(filter=Or([FieldFilter("last_activity_at", "<", cutoff),
                                   FieldFilter("last_activity_at", "==", None)]))
            q = q.order_by("last_activity_at", direction=firestore.Query.ASCENDING)
        else:
            q = q.where(filter=FieldFilter("last_activity_at", ">=", cutoff))
            q = q.order_by("last_activity_at", direction=firestore.Query.DESCENDING)
    return q


@dataclasses.dataclass
class SegmentPage:
    contacts: list[Contact]
    next_cursor: str | None


def page(repo: Repository, segment: Segment, cursor: str | None = None, size: int = PAGE_SIZE,
         now: dt.datetime | None = None) -> SegmentPage:
    """One page of a segment's contacts; ValueError for a cursor we did not make."""
    q = query(repo, segment, now)
    if cursor:
        if not CURSOR_PATTERN.match(cursor):
            raise ValueError("invalid segment cursor")
        after = repo.contact_ref(cursor).get()
        if not after.exists:
            raise ValueError("invalid segment cursor")
        q = q.start_after(after)
    snapshots = list(q.limit(size + 1).stream())
    contacts = [contact_from_doc(s) for s in snapshots[:size]]
    return SegmentPage(contacts, contacts[-1].id if len(snapshots) > size else None)


def count(repo: Repository, segment: Segment, now: dt.datetime | None = None) -> int:
    """How many contacts match, by a Firestore `count()` aggregation (no documents read)."""
    result = query(repo, segment, now).count().get()
    return int(result[0][0].value)


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
    ref = rep_ref(repo, rep)
    known = {s.id for s in list_segments(repo, rep)}
    updates = {s.id: {"count": s.count, "counted_at": to_epoch(s.counted_at)} for s in segments if s.id in known}
    if updates:
        ref.set({"segments": updates}, merge=True)
