"""Who on a message or event matters, and their data, in a handful of batched reads.

A participant matters when they are outside the team: not the rep, not the
tenant's domain or its internal domains, not a role or no-reply address, not
excluded. Reads, whatever the tenant's size: the address index (one get_all),
the contacts (one), their companies (one), then one timeline read per person.
"""

from __future__ import annotations

import datetime as dt

from cards.contact import Person
from models.addresses import company_domain, domain_matches, email_domain, is_excluded, is_role_address, normalize_email
from models.domain import Contact, Settings
from models.repository import NotFound, Repository

MAX_PEOPLE = 5  # sections on a message card: the sender and four more (each costs a timeline read)
MAX_ATTENDEES = 10  # briefs on an event card


def is_external(email: str, rep: str, tenant: str, settings: Settings) -> bool:
    email = normalize_email(email)
    domain = email_domain(email)
    if email == rep or not domain:
        return False
    if any(domain_matches(domain, internal) for internal in (tenant, *settings.internal_domains)):
        return False
    return not is_role_address(email) and not is_excluded(email, settings.exclusions)


def external(pairs: list[tuple[str, str]], rep: str, tenant: str, settings: Settings) -> list[tuple[str, str]]:
    """(email, display name) pairs that matter, first appearance first, each address once."""
    seen: dict[str, str] = {}
    for email, name in pairs:
        email = normalize_email(email)
        if email not in seen and is_external(email, rep, tenant, settings):
            seen[email] = name
    return list(seen.items())


def load_people(repo: Repository, pairs: list[tuple[str, str]], since: dt.datetime | None = None,
                cursor_for: dict[str, str] | None = None) -> list[Person]:
    """Each address as a Person with contact, company and timeline (a page, or everything `since`)."""
    ids = repo.contact_ids_by_email(email for email, _ in pairs)
    contacts = repo.get_contacts(ids.values())
    for contact_id, contact in list(contacts.items()):
        if contact.merged_into:
            try:
                contacts[contact_id] = repo.get_contact(contact.merged_into, follow_alias=False)
            except NotFound:
                contacts.pop(contact_id)
    people = [Person(email=email, display_name=name, contact=contacts.get(ids.get(email, "")))
              for email, name in pairs]
    domains = {p.contact.company_id if p.contact else company_domain(p.email) for p in people}
    companies = repo.get_companies(d for d in domains if d)
    for person in people:
        domain = person.contact.company_id if person.contact else company_domain(person.email)
        person.company = companies.get(domain) if domain else None
        if person.contact is not None:
            fill_timeline(repo, person, since=since)
    return people


def fill_timeline(repo: Repository, person: Person, cursor: str | None = None,
                  since: dt.datetime | None = None) -> Person:
    contact: Contact = person.contact
    page = repo.timeline(contact.id, cursor=cursor, contact=contact, since=since)
    person.entries, person.next_cursor = page.entries, page.next_cursor
    return person


def person_of(repo: Repository, contact: Contact) -> Person:
    """A known contact with their company and newest timeline page (the contact card)."""
    person = Person(email=contact.primary_email, display_name=contact.display_name, contact=contact)
    person.company = repo.get_company(contact.company_id) if contact.company_id else None
    return fill_timeline(repo, person)
