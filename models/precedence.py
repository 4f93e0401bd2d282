"""Which of several observations of one person wins, whatever order they were made in (issue #12, point 3).

Sync sees a person in many messages and mailboxes, in an order that depends
on scheduling; what it stores must not. Each rule here is a pure total order
over what was seen, so the result is the best (or earliest) observation, the
same for any order and any split between processes. `models.repository`
applies them with field-level transforms and conditional writes
(`Repository.settle_synced_contacts`); nothing here reads or writes.

(h2's name-source work may replace `name_rank`'s first levels with its own
source field; the ordering stays a small pure function here.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

NameParts = Sequence[str]  # (first, middle, last)


def name_rank(parts: NameParts, from_display_name: bool) -> tuple:
    """How good a name is (higher wins): one taken from a display name beats one made from the local part
    ("Lucas Smith" over "Lsmith"); then a first and a last name over one word; then a name written in
    mixed case over one in all lower or upper case; then more parts; then the text itself, so two different
    names of equal merit still have a fixed winner."""
    words = [p for p in parts if p]
    text = " ".join(words)
    mixed_case = text != text.lower() and text != text.upper()
    return (from_display_name, bool(parts[0]) and bool(parts[-1]), mixed_case, len(words), text)


def best_name(candidates: Iterable[tuple[NameParts, bool]]) -> tuple[str, str, str] | None:
    """The best of (parts, from a display name) candidates by `name_rank`; None when there are none."""
    best = max(candidates, key=lambda candidate: name_rank(*candidate), default=None)
    return tuple(best[0]) if best is not None else None  # type: ignore[return-value]


def first_owner(first_exchanges: Mapping[str, float]) -> str | None:
    """The owner of a contact sync created: the rep whose exchange with them is the earliest (epoch
    seconds, rep -> first exchange); two at the same instant go to the smaller address."""
    return min(first_exchanges.items(), key=lambda item: (item[1], item[0]), default=(None, 0))[0]


def current_job(newest: Mapping[str, float]) -> str | None:
    """Of the records of one person at different companies (contact id -> their newest activity, epoch
    seconds), the current job: the most recently active, ties by the larger id. The others are the old jobs,
    which carry the job-change flag pointing at it."""
    return max(newest.items(), key=lambda item: (item[1], item[0]), default=(None, 0))[0]
