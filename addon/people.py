"""Who on a message or event matters, and their data, in a handful of batched reads.

A participant matters when they are outside the team: not the rep, not the
tenant's domain or its internal domains, not a role, no-reply or machine
address (the packaged rules and the tenant's machine list), not a relay
("Jane Doe via DocuSign"), not excluded: the rules sync creates contacts by.
Reads, whatever the tenant's size: one read view of the people
(`Repository.people_view`: addresses, contacts, companies and recent timeline
months in one get_all), then a timeline read only for a person whose page
reaches further back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from cards.people import Person
from models.addresses import (
    domain_matches,
    email_domain,
    is_excluded,
    is_relay_name,
    is_role_address,
    machine_rule,
    normalize_email,
)
from models.domain import Activity, Contact, Settings
from models.merge import find_duplicates
from models.repository import Repository

MAX_PEOPLE = 5  # sections on a message card: the sender and four more (each costs a timeline read)
MAX_ATTENDEES = 10  # briefs on an event card


def is_external(email: str, rep: str, tenant: str, settings: Settings) -> bool:
    email = normalize_email(email)
    domain = email_domain(email)
    if email == rep or not domain:
        return False
    if any(domain_matches(domain, internal) for internal in (tenant, *settings.internal_domains)):
        return False
    if is_role_address(email) or machine_rule(email, settings.machine_addresses):
        return False
    return not is_excluded(email, settings.exclusions)


def external(pairs: list[tuple[str, str]], rep: str, tenant: str, settings: Settings) -> list[tuple[str, str]]:
    """(email, display name) pairs that matter, first appearance first, each address once."""
    seen: dict[str, str] = {}
    for email, name in pairs:
        email = normalize_email(email)
        if email not in seen and not is_relay_name(name) and is_external(email, rep, tenant, settings):
            seen[email] = name
    return list(seen.items())


def load_people(repo: Repository, pairs: list[tuple[str, str]], since: dt.datetime | None = None,
                activity: Activity | None = None) -> list[Person]:
    """Each address as a Person with contact, company and timeline (a page, or everything `since`).

    One read view (`Repository.people_view`: the address index, the contacts,
    their companies and their recent timeline months in one batched read; pass
    the stored `activity` the addresses come from, whose linked contacts it
    reads directly), then a timeline read only for a person whose page needs
    older months than the view fetched.
    """
    view = repo.people_view([email for email, _ in pairs], activity)
    people = []
    for email, name in pairs:
        person = Person(email=email, display_name=name, contact=view.contacts.get(email))
        person.company = view.companies.get(email)
        if person.contact is not None:
            fill_timeline(repo, person, since=since, buckets=view.buckets.get(person.contact.id))
        people.append(person)
    return people


def fill_timeline(repo: Repository, person: Person, cursor: str | None = None,
                  since: dt.datetime | None = None, buckets: Mapping[str, Mapping[str, str]] | None = None) -> Person:
    contact: Contact = person.contact
    page = repo.timeline(contact.id, cursor=cursor, contact=contact, since=since, buckets=buckets)
    person.entries, person.next_cursor = page.entries, page.next_cursor
    return person


def person_of(repo: Repository, contact: Contact) -> Person:
    """A known contact with their company, likely duplicates and newest timeline page (the contact card).

    Duplicates cost two batched reads (`models.merge.find_duplicates`), which is
    why only the contact card shows them, not each section of a Gmail card.
    """
    person = Person(email=contact.primary_email, display_name=contact.display_name, contact=contact)
    person.company = repo.get_company(contact.company_id) if contact.company_id else None
    person.duplicates = [tuple(d) for d in find_duplicates(repo, contact)]
    return fill_timeline(repo, person)
