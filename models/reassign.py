"""Bulk reassignment: a departed rep's contacts handed to the team, journaled and resumable (SPEC §8, #15).

The admin moves every contact a rep owns (or only those in one of the admin's
segments) to one teammate, or spreads them over several: the contacts, sorted
by id, go round-robin to the teammates in the order given, so the same request
gives the same split every time.

`reassign_contacts` is a sequence of idempotent steps, journaled in
`reassignments/{op_id}` like `models.merge` journals a merge; the operation id
is derived from (from, to, segment), so running the same command again resumes
it:

1. plan     the contacts the rep owns (their owner index, `models.search`),
            filtered by the segment, split into chunks of `CHUNK_CONTACTS`
            (`{contact_id: new owner}`), written, then the journal naming
            how many — a crash before the journal leaves nothing to resume,
            and the rerun plans again
2. chunks   each chunk not done yet: its contacts read, and in one atomic
            commit each still owned by the departed rep gets its new owner
            (contact and owner index row moved together,
            `Repository.reassign_owner`) and the chunk is marked done with
            what moved; a contact someone else gave another owner meanwhile
            is skipped and reported, never overwritten
3. done     the journal's state and totals

A chunk is one commit (`CHUNK_CONTACTS` x 3 writes + 1, under Firestore's 500),
so a kill leaves each chunk wholly done or not started; a rerun skips the done
ones and reapplies the rest, and a contact already carrying its planned owner
counts as moved. The report is rebuilt from the chunks, so a resumed run
reports everything the operation moved, before and after the kill. Once done,
the same request plans again only if the rep owns contacts again (say a
late import); otherwise it answers the stored report.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Sequence

from models.domain import Segment, utcnow
from models.repository import Repository

log = logging.getLogger(__name__)

CHUNK_CONTACTS = 100  # contacts moved per atomic commit: 3 writes each plus the chunk's own, under 500
SEGMENT_PAGE = 500  # contacts read per page of a segment's query


@dataclasses.dataclass
class ReassignReport:
    """What a reassignment moved: contact ids by new owner, and the ones it left alone."""

    op_id: str
    from_rep: str
    to_reps: list[str]
    moved: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    skipped: list[str] = dataclasses.field(default_factory=list)  # owner changed meanwhile, or contact gone
    already_done: bool = False

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.moved.values())

    def lines(self) -> list[str]:
        spread = ", ".join(f"{rep}: {len(self.moved.get(rep, []))}" for rep in self.to_reps)
        lines = [f"reassigned {self.total} contacts of {self.from_rep} ({spread})"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} whose owner had changed meanwhile or that no longer exist")
        return lines

    def rows(self) -> list[tuple[str, str, str]]:
        """(contact id, from, to) per moved contact, for a CSV report."""
        return sorted((cid, self.from_rep, rep) for rep, ids in self.moved.items() for cid in ids)


def operation_id(from_rep: str, to_reps: Sequence[str], segment_id: str | None = None) -> str:
    key = "|".join([from_rep, ",".join(to_reps), segment_id or ""])
    return "r" + hashlib.sha256(key.encode()).hexdigest()[:20]


def plan(contact_ids: Sequence[str], to_reps: Sequence[str]) -> list[dict[str, str]]:
    """Round-robin over `to_reps` in id order, in chunks of CHUNK_CONTACTS: deterministic."""
    ordered = sorted(contact_ids)
    assignments = {cid: to_reps[n % len(to_reps)] for n, cid in enumerate(ordered)}
    return [dict(list(assignments.items())[start:start + CHUNK_CONTACTS])
            for start in range(0, len(ordered), CHUNK_CONTACTS)]


def reassign_contacts(repo: Repository, from_rep: str, to_reps: Sequence[str], *, segment: Segment | None = None,
                      after_chunk: Callable[[int], None] | None = None) -> ReassignReport:
    """Move `from_rep`'s contacts (those in `segment` only, when given) to `to_reps`; resumable (module doc).

    `after_chunk(n)` is called once chunk n is committed (tests raise from it
    to simulate a kill). Raises ValueError for an empty or self-including list.
    """
    from_rep = from_rep.strip().lower()
    to_reps = list(dict.fromkeys(rep.strip().lower() for rep in to_reps if rep.strip()))
    if not to_reps:
        raise ValueError("name at least one teammate to reassign the contacts to")
    if from_rep in to_reps:
        raise ValueError(f"{from_rep} cannot be one of the teammates taking over their own contacts")
    hook = after_chunk or (lambda n: None)
    op_id = operation_id(from_rep, to_reps, segment.id if segment else None)
    journal = repo.reassignment_journal(op_id)
    if journal is None or journal.get("state") == "done":
        owned = _owned(repo, from_rep, segment)
        if journal is not None and not owned:
            return dataclasses.replace(_report(repo, op_id, journal, from_rep, to_reps), already_done=True)
        journal = {"from_rep": from_rep, "to_reps": to_reps, "segment_id": segment.id if segment else None,
                   "state": "started", "started_at": utcnow(), "contacts": len(owned)}
        repo.plan_reassignment(op_id, journal, plan(owned, to_reps))
        journal = repo.reassignment_journal(op_id) or journal

    chunks = repo.reassignment_chunks(op_id, int(journal.get("chunks") or 0))
    for number, chunk in enumerate(chunks):
        if chunk.get("done"):
            continue
        _apply_chunk(repo, op_id, number, chunk["assignments"], from_rep)
        hook(number)

    report = _report(repo, op_id, journal, from_rep, to_reps)
    repo.update_reassignment_journal(op_id, {"state": "done", "finished_at": utcnow(), "moved": report.total,
                                             "skipped": len(report.skipped)})
    log.info("reassigned contacts tenant=%s op=%s from=%s to=%d moved=%d skipped=%d", repo.tenant, op_id,
             from_rep, len(to_reps), report.total, len(report.skipped))
    return report


def _owned(repo: Repository, from_rep: str, segment: Segment | None) -> list[str]:
    owned = repo.owned_contact_ids(from_rep)
    if segment is None:
        return owned
    in_segment: set[str] = set()
    after = None
    while True:
        page = repo.segment_contacts(segment, after, SEGMENT_PAGE)
        in_segment.update(c.id for c in page)
        if len(page) < SEGMENT_PAGE:
            break
        after = page[-1].id
    return [cid for cid in owned if cid in in_segment]


def _apply_chunk(repo: Repository, op_id: str, number: int, assignments: dict[str, str], from_rep: str) -> None:
    """One chunk in one commit: each contact still the departed rep's gets its planned owner."""
    contacts = repo.get_contacts(assignments)
    moved: dict[str, list[str]] = {}
    skipped: list[str] = []
    with repo.batch() as writer:
        for contact_id, new_owner in sorted(assignments.items()):
            contact = contacts.get(contact_id)
            if contact is None or contact.merged_into or contact.owner not in (from_rep, new_owner):
                skipped.append(contact_id)
                continue
            if contact.owner == from_rep:
                repo.reassign_owner(writer, contact, new_owner)
            moved.setdefault(new_owner, []).append(contact_id)
        repo.finish_reassignment_chunk(writer, op_id, number, {"moved": moved, "skipped": skipped})


def _report(repo: Repository, op_id: str, journal: dict, from_rep: str, to_reps: list[str]) -> ReassignReport:
    report = ReassignReport(op_id, from_rep, to_reps)
    for chunk in repo.reassignment_chunks(op_id, int(journal.get("chunks") or 0)):
        for rep, ids in (chunk.get("moved") or {}).items():
            report.moved.setdefault(rep, []).extend(ids)
        report.skipped.extend(chunk.get("skipped") or [])
    return report
