"""Which of several observations of one person wins, whatever order they were made in (issue #12, point 3).

Sync sees a person in many messages and mailboxes, in an order that depends
on scheduling; what it stores must not. Each rule here is a pure total order
over what was seen, so the result is the best (or earliest) observation, the
same for any order and any split between processes. `models.repository`
applies them with field-level transforms and conditional writes
(`Repository.settle_synced_contacts`); nothing here reads or writes.

Names: candidates come from `models.addresses.person_name` (decorations
stripped, encoded words decoded, the capitalisation rule) with their source
(`NAME_FROM_HEADER`, a display name; `NAME_FROM_ADDRESS`, a local-part guess).
A name a rep typed or imported (`Contact.name_source == ""`) is never a
candidate's to replace. Among several display names for one person the winner
is fixed by `name_rank` alone (first and last over one word, mixed case, more
parts, then the text itself), never by which message or mailbox came first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from models.addresses import NAME_FROM_ADDRESS, NAME_FROM_HEADER

NameParts = Sequence[str]  # (first, middle, last)
NAME_SOURCE_RANK = {NAME_FROM_ADDRESS: 1, NAME_FROM_HEADER: 2}  # Contact.name_source levels, "" (typed) above all


def name_rank(parts: NameParts, source: str) -> tuple:
    """How good a name is (higher wins): first its source (`NAME_SOURCE_RANK`: one taken from a display
    name beats one made from the local part, "Lucas Smith" over "Lsmith"); then a first and a last name
    over one word; then a name written in mixed case over one in all lower or upper case; then more
    parts; then the text itself, so two different names of equal merit still have a fixed winner."""
    words = [p for p in parts if p]
    text = " ".join(words)
    mixed_case = text != text.lower() and text != text.upper()
    return (NAME_SOURCE_RANK.get(source, 0), bool(parts[0]) and bool(parts[-1]), mixed_case, len(words), text)


def best_name(candidates: Iterable[tuple[NameParts, str]]) -> tuple[NameParts, str] | None:
    """The best of (parts, source) candidates by `name_rank`; None when there are none."""
    return max(candidates, key=lambda candidate: name_rank(*candidate), default=None)


def first_owner(first_exchanges: Mapping[str, float]) -> str | None:
    """The owner of a contact sync created: the rep whose exchange with them is the earliest (epoch
    seconds, rep -> first exchange); two at the same instant go to the smaller address."""
    return min(first_exchanges.items(), key=lambda item: (item[1], item[0]), default=(None, 0))[0]


def current_job(newest: Mapping[str, float]) -> str | None:
    """Of the records of one person at different companies (contact id -> their newest activity, epoch
    seconds), the current job: the most recently active, ties by the larger id. Whether the others are old
    jobs of one person is `sync.people`'s evidence rule; those that are carry the flag pointing at it."""
    return max(newest.items(), key=lambda item: (item[1], item[0]), default=(None, 0))[0]
