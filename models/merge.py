"""Duplicates and merges: keeping the contact list clean without losing a thing (SPEC §8).

Two contacts are the same person when they share an address (possible after an
import or an edit raced another writer: the `emails/{addr}` index then points at
one of them while the other still lists it) or, more softly, when their names
are alike at the same company ("Bob Smith" and "Robert Smith" at acme.com).

`find_duplicates` is cheap enough for a card: it reads the contact's address
index entries and the company's bounded contact sample (`Company.contact_ids`),
one `get_all` each, and never queries the contacts collection. The price of
that is a documented blind spot: at a company with more contacts than the
sample holds, a similar name outside the sample is not found by the card
(`scan_address_conflicts` covers same-address twins for an admin, tenant-wide).

Merge rule (`absorb`, shared with the CSV import): the kept contact's non-empty
value wins; an empty one is filled from the other; emails, tags and previous
companies are unions (the kept contact's order first). Every value of the
merged-away contact that lost a conflict is written, field by field, into a
"previous values" note on the kept contact's timeline, so nothing typed by a
rep disappears and the card shows what changed.

`merge_contacts` is a sequence of idempotent steps, journaled in
`merges/{merge_id}` and finished by writing the alias (`merged_into`) last:

1. journal     `merges/{merge_id}` = {keep_id, state: started, started_at}
2. fields      the kept contact's fields (the union), every address re-pointed
               to it in the index, its counters raised to the other's
               (`Maximum`), its search and name index rows, the
               previous-values note — one batch
3. timeline    per month bucket of the merged contact: each activity's
               `contact_ids` re-pointed, then in one batch the rows copied into
               the kept contact's bucket, the month listed there and the old
               bucket deleted
4. company     the company samples: the merged id out, the kept id in
5. alias       the merged contact becomes an alias (no emails, no timeline,
               `merged_into`, out of the search and name indexes), older
               aliases of it re-pointed, journal done

Each step recomputes what it writes from the current documents, and writing it
twice writes the same values, so a crash anywhere and a rerun leave exactly
what an uninterrupted merge leaves. Until step 5 the merged contact still
exists as itself, so a retry finds everything it needs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from rapidfuzz import fuzz

from models.addresses import fold, name_key, name_parts
from models.domain import LIFECYCLE_STAGES, Activity, ActivityKind, Contact, utcnow
from models.repository import (
    COMPANY_CONTACT_SAMPLE,
    Conflict,
    Repository,
    activity_id_for,
    contact_to_doc,
    month_of,
)
from models.signals import thresholds_of

log = logging.getLogger(__name__)

SAME_ADDRESS = "same_address"
SIMILAR_NAME = "similar_name"
SAME_ADDRESS_SCORE = 100.0
# token_sort_ratio of the folded full names: 88 lets "Jon Smith"/"John Smith" (95) and
# "John Smyth"/"John Smith" (90) through and keeps "Jane Smith"/"John Smith" (80) out.
SIMILAR_NAME_THRESHOLD = 88.0
SURNAME_THRESHOLD = 80.0  # the family names alone must be this close too: "Smyth"/"Smith" is 80
NICKNAME_SCORE = 95.0  # a nickname match is strong, but below a shared address

# Fields where the kept contact's non-empty value wins and an empty one is filled.
SCALAR_FIELDS = ("first_name", "middle_name", "last_name", "title", "phone", "company_id", "owner")
FIELD_LABELS = {"first_name": "First name", "middle_name": "Middle name", "last_name": "Last name",
                "title": "Job title", "phone": "Phone", "company_id": "Company", "owner": "Owner",
                "lifecycle_stage": "Lifecycle stage"}

# Common English nicknames -> the given name they shorten. nameparser has no such
# table (its constants cover titles, suffixes and prefixes only), so this is ours:
# small on purpose, the names sales teams meet most; both sides are looked up, so
# "Bob" and "Robert" meet at "robert", "Bill" and "Will" at "william".
NICKNAMES: dict[str, str] = {
    "al": "albert", "alex": "alexander", "andy": "andrew", "drew": "andrew", "tony": "anthony",
    "ben": "benjamin", "bill": "william", "billy": "william", "will": "william", "willy": "william",
    "liam": "william", "bob": "robert", "bobby": "robert", "rob": "robert", "robbie": "robert",
    "bert": "robert", "chris": "christopher", "chuck": "charles", "charlie": "charles",
    "dan": "daniel", "danny": "daniel", "dave": "david", "ed": "edward", "eddie": "edward",
    "ted": "edward", "fred": "frederick", "greg": "gregory", "jim": "james", "jimmy": "james",
    "jamie": "james", "joe": "joseph", "joey": "joseph", "jon": "jonathan", "jack": "john",
    "johnny": "john", "ken": "kenneth", "larry": "lawrence", "matt": "matthew", "mike": "michael",
    "mick": "michael", "nate": "nathan", "nick": "nicholas", "pat": "patrick", "pete": "peter",
    "phil": "philip", "ray": "raymond", "rick": "richard", "rich": "richard", "dick": "richard",
    "ron": "ronald", "sam": "samuel", "steve": "stephen", "steven": "stephen", "stu": "stuart",
    "tom": "thomas", "tommy": "thomas", "tim": "timothy", "vince": "vincent", "zach": "zachary",
    "abby": "abigail", "allie": "allison", "becky": "rebecca", "beth": "elizabeth",
    "liz": "elizabeth", "lizzie": "elizabeth", "betty": "elizabeth", "cathy": "catherine",
    "kate": "katherine", "katie": "katherine", "kathy": "katherine",
    "deb": "deborah", "debbie": "deborah", "jen": "jennifer", "jenny": "jennifer", "jess": "jessica",
    "jo": "joanne", "judy": "judith", "maggie": "margaret", "meg": "margaret", "peggy": "margaret",
    "mandy": "amanda", "pam": "pamela", "sue": "susan", "susie": "susan", "vicky": "victoria",
    "val": "valerie", "nicky": "nicole", "sandy": "sandra", "cindy": "cynthia", "patty": "patricia",
    "trish": "patricia", "terry": "theresa", "tess": "theresa",
}


class Duplicate(NamedTuple):
    """A likely twin of a contact: a tuple `(contact, reason, score)` so callers may unpack it."""

    contact: Contact
    reason: str  # SAME_ADDRESS or SIMILAR_NAME
    score: float  # 0-100, higher is surer


@dataclasses.dataclass
class FieldConflict:
    """One field both contacts hold with different values; the kept value won."""

    field: str
    kept: Any
    other: Any


@dataclasses.dataclass
class AddressConflict:
    """An address listed by a contact that the index gives to another (or to nobody)."""

    email: str
    listed_by: str
    indexed_to: str | None


# --- the merge rule --------------------------------------------------------------------------

def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def absorb(kept: Contact, other: Contact) -> list[FieldConflict]:
    """Fold `other` into `kept` by the merge rule (module doc); the conflicts the kept side won.

    Pure and idempotent: absorbing the same contact twice changes nothing the
    second time and reports the same conflicts, which is what makes both a
    re-import and a retried merge write nothing new.
    """
    conflicts = []
    for name in SCALAR_FIELDS:
        mine, theirs = getattr(kept, name), getattr(other, name)
        if _empty(mine) and not _empty(theirs):
            setattr(kept, name, theirs)
        elif not _empty(theirs) and mine != theirs:
            conflicts.append(FieldConflict(name, mine, theirs))
    if not kept.lifecycle_stage and other.lifecycle_stage:
        kept.lifecycle_stage = other.lifecycle_stage
    elif other.lifecycle_stage and kept.lifecycle_stage != other.lifecycle_stage:
        conflicts.append(FieldConflict("lifecycle_stage", kept.lifecycle_stage, other.lifecycle_stage))
    kept.emails = list(dict.fromkeys([*kept.emails, *other.emails]))
    known_tags = {tag.casefold() for tag in kept.tags}
    for tag in other.tags:
        if tag.casefold() not in known_tags:
            kept.tags.append(tag)
            known_tags.add(tag.casefold())
    for key, value in other.custom.items():
        if _empty(kept.custom.get(key)) and not _empty(value):
            kept.custom[key] = value
        elif not _empty(value) and kept.custom[key] != value:
            conflicts.append(FieldConflict(f"custom.{key}", kept.custom[key], value))
    kept.previous_companies = list(dict.fromkeys([*kept.previous_companies, *other.previous_companies]))
    if kept.job_change is None and other.job_change is not None:
        kept.job_change = other.job_change
    return conflicts


# --- finding duplicates ------------------------------------------------------------------------

def _first_name_key(first: str) -> str:
    folded = fold(first).strip().strip(".")
    return NICKNAMES.get(folded, folded)


def _name_of(contact: Contact) -> tuple[str, str]:
    """(first, last) folded, falling back to the address's local part as sync does."""
    first, last = contact.first_name, contact.last_name
    if not (first and last) and contact.primary_email:
        derived_first, _, derived_last = name_parts("", contact.primary_email)
        first, last = first or derived_first, last or derived_last
    return fold(first).strip(), fold(last).strip()


def name_similarity(a: Contact, b: Contact) -> float:
    """0-100: how alike two contacts' names are, nicknames resolved; 0 without a first and last name."""
    (first_a, last_a), (first_b, last_b) = _name_of(a), _name_of(b)
    if not (first_a and last_a and first_b and last_b):
        return 0.0
    if fuzz.ratio(last_a, last_b) < SURNAME_THRESHOLD:
        return 0.0
    # as written ("Jon"/"John" are close) and with nicknames resolved ("Bob"/"Robert" meet)
    score = fuzz.token_sort_ratio(f"{first_a} {last_a}", f"{first_b} {last_b}")
    key_a, key_b = _first_name_key(first_a), _first_name_key(first_b)
    if key_a == key_b and first_a != first_b:
        score = max(score, NICKNAME_SCORE)  # "Bob" is probably, not certainly, "Robert"
    return float(score)


def find_duplicates(repo: Repository, contact: Contact) -> list[Duplicate]:
    """Likely twins of `contact`, surest first: a shared address, or a similar name at its company.

    Two batched reads (the contact's address index entries, then the company
    sample and any contact an address points at), never a query.
    """
    index = repo.contact_ids_by_email(contact.emails)
    company = repo.get_company(contact.company_id) if contact.company_id else None
    sample = company.contact_ids if company else []
    candidates = repo.get_contacts([*index.values(), *sample])
    candidates = _resolve_aliases(repo, candidates)
    found: dict[str, Duplicate] = {}
    own = {email.casefold() for email in contact.emails}
    for other in candidates.values():
        if other.id == contact.id or other.merged_into:
            continue
        shared = own & {email.casefold() for email in other.emails}
        if shared or any(index.get(email) == other.id for email in contact.emails):
            found[other.id] = Duplicate(other, SAME_ADDRESS, SAME_ADDRESS_SCORE)
            continue
        if other.company_id and other.company_id == contact.company_id:
            score = name_similarity(contact, other)
            if score >= SIMILAR_NAME_THRESHOLD:
                found[other.id] = Duplicate(other, SIMILAR_NAME, score)
    return sorted(found.values(), key=lambda d: (-d.score, d.contact.id))


def _resolve_aliases(repo: Repository, contacts: dict[str, Contact]) -> dict[str, Contact]:
    """Replace alias records by the contacts they point at (one more read at most)."""
    targets = {c.merged_into for c in contacts.values() if c.merged_into}
    live = {cid: c for cid, c in contacts.items() if not c.merged_into}
    live.update(repo.get_contacts(targets - set(live)))
    return live


def scan_address_conflicts(repo: Repository) -> list[AddressConflict]:
    """Every address a contact lists that the index gives to another contact or to nobody.

    A tenant-wide scan for admins and the CLI (it streams the contacts
    collection), never for a card.
    """
    listed: dict[str, list[str]] = {}
    for contact in repo.all_contacts():
        if contact.merged_into:
            continue
        for email in contact.emails:
            listed.setdefault(email, []).append(contact.id)
    index = repo.contact_ids_by_email(listed)
    conflicts = []
    for email, holders in sorted(listed.items()):
        for holder in holders:
            if index.get(email) != holder:
                conflicts.append(AddressConflict(email, holder, index.get(email)))
    return conflicts


# --- merging ----------------------------------------------------------------------------------

@dataclasses.dataclass
class MergeResult:
    """What a merge did, for the card's notification and the logs."""

    contact: Contact  # the kept contact as it now stands
    merged_id: str
    activities_moved: int = 0
    conflicts: list[FieldConflict] = dataclasses.field(default_factory=list)
    already_done: bool = False


def previous_values_note_id(keep_id: str, merge_id: str) -> str:
    """Deterministic, so a retried merge rewrites its note instead of adding a second."""
    return activity_id_for(f"merge:{keep_id}:{merge_id}")


def merge_contacts(repo: Repository, keep_id: str, merge_id: str, *,
                   after_step: Callable[[str], None] | None = None) -> MergeResult:
    """Merge contact `merge_id` into `keep_id`, losing nothing; safe to call again after any crash.

    `after_step` is called with each step's name once that step is committed
    (tests raise from it to simulate a crash). Raises ValueError for a merge of a
    contact into itself, NotFound for an unknown id, Conflict when the contact
    is (being) merged into a different one.
    """
    hook = after_step or (lambda step: None)
    if keep_id == merge_id:
        raise ValueError("a contact cannot be merged into itself")
    other = repo.get_contact(merge_id, follow_alias=False)
    journal = repo.merge_journal(merge_id)
    if journal and journal.get("keep_id") != keep_id:
        if journal.get("state") == "done":
            raise Conflict(f"contact {merge_id} was already merged into {journal.get('keep_id')}")
        raise Conflict(f"contact {merge_id} is already being merged into {journal.get('keep_id')}; "
                       "retry that merge instead")
    if other.merged_into:
        if other.merged_into == keep_id and journal and journal.get("state") == "done":
            return MergeResult(repo.get_contact(keep_id), merge_id, already_done=True)
        raise Conflict(f"contact {merge_id} was already merged into {other.merged_into}")
    kept = repo.get_contact(keep_id, follow_alias=False)
    if kept.merged_into:
        raise Conflict(f"contact {keep_id} was merged into {kept.merged_into}; merge into that one")

    # 1. journal
    started_at = journal["started_at"] if journal else utcnow()
    if journal is None:
        repo.start_merge_journal(merge_id, {"keep_id": keep_id, "merge_id": merge_id, "state": "started",
                                            "started_at": started_at, "merged": contact_to_doc(other)})
    hook("journal")

    # 2. fields, addresses, counters, indexes and the previous-values note, in one batch
    before = dataclasses.replace(kept, emails=list(kept.emails))
    conflicts = absorb(kept, other)
    if other.company_id and other.company_id != kept.company_id:
        kept.previous_companies = list(dict.fromkeys([*kept.previous_companies, other.company_id]))
    kept.created_at = min(kept.created_at, other.created_at)
    note = _previous_values_note(kept, other, conflicts, started_at) if conflicts else None
    with repo.batch() as writer:
        repo.put_merged_contact(writer, kept, other, month_of(note.at) if note is not None else None,
                                link_pending=bool(set(kept.emails) - set(before.emails)))
        repo.search_index.index_contact(writer, kept, previous=before)
        if name_key(kept.first_name, kept.last_name):
            repo.index_name(writer, name_key(kept.first_name, kept.last_name), kept.id)
        if note is not None:
            repo.put_activity(writer, note)
    hook("fields")

    # 3. timeline, bucket by bucket
    moved = 0
    for month in sorted(other.timeline_months):
        moved += repo.move_timeline_bucket(other.id, kept.id, month)
        hook("timeline")

    # 4. company samples
    _fix_company_samples(repo, kept, other)
    hook("company")

    # what segments query of the kept contact's signals (issue 17), before the alias ends the merge
    repo.refresh_signals([kept.id], thresholds_of(repo.get_settings()))

    # 5. alias last: from here on everything reaching the merged id lands on the kept one
    with repo.batch() as writer:
        repo.make_alias(writer, other, kept.id, name_key(other.first_name, other.last_name))
        for alias in repo.aliases_of(other.id):
            repo.point_alias(writer, alias, kept.id)
        repo.update_merge_journal(writer, merge_id, {"state": "done", "finished_at": utcnow(),
                                                     "activities_moved": moved,
                                                     "conflicts": [dataclasses.asdict(c) for c in conflicts]})
    hook("alias")
    log.info("merged contact tenant=%s merged=%s into=%s activities=%d conflicts=%d",
             repo.tenant, other.id, kept.id, moved, len(conflicts))
    return MergeResult(repo.get_contact(kept.id), other.id, moved, conflicts)


def _previous_values_note(kept: Contact, other: Contact, conflicts: list[FieldConflict],
                          at: dt.datetime) -> Activity:
    """A note on the kept contact keeping every value of the merged one that lost a conflict."""
    lines = [f"Merged {other.display_name} ({', '.join(other.emails) or other.id}) into this contact.",
             "Their values that differed (this contact's were kept):"]
    for conflict in conflicts:
        label = FIELD_LABELS.get(conflict.field, conflict.field.removeprefix("custom."))
        value = LIFECYCLE_STAGES.get(conflict.other, conflict.other) if conflict.field == "lifecycle_stage" \
            else conflict.other
        lines.append(f"- {label}: {value}")
    return Activity(id=previous_values_note_id(kept.id, other.id), kind=ActivityKind.NOTE, at=at,
                    subject="Previous values after a merge", body="\n".join(lines),
                    contact_ids=[kept.id], company_ids=[kept.company_id] if kept.company_id else [],
                    created_at=at)


def _fix_company_samples(repo: Repository, kept: Contact, other: Contact) -> None:
    """Take the merged id out of its company's sample; make sure the kept one is in its own."""
    companies = repo.get_companies({cid for cid in (kept.company_id, other.company_id) if cid})
    with repo.batch() as writer:
        for company in companies.values():
            ids = [cid for cid in company.contact_ids if cid != other.id]
            if company.id == kept.company_id and kept.id not in ids and len(ids) < COMPANY_CONTACT_SAMPLE:
                ids.append(kept.id)
            if ids != company.contact_ids:
                repo.set_company_sample(writer, company.id, ids)
