"""Who on a message or event matters, and their data, in a handful of batched reads.

A participant matters when they are outside the team: not the rep, not the
tenant's domain or its internal domains, not a role or no-reply address, not
excluded. Reads, whatever the tenant's size: the address index (one get_all),
the contacts (one), their companies (one), then one timeline read per person.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import unquote

from cards.people import Person
from models.addresses import company_domain, domain_matches, email_domain, is_excluded, is_role_address, normalize_email
from models.domain import Company, Contact, Settings
from models.merge import find_duplicates
from models.repository import (
    NotFound,
    Repository,
    company_from_doc,
    contact_from_doc,
    contact_id_for,
    settings_from_doc,
)

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


def load_people(repo: Repository, pairs: list[tuple[str, str]], since: dt.datetime | None = None) -> list[Person]:
    """Each address as a Person with contact, company and timeline (a page, or everything `since`).

    One batched read fetches, for every address, its index entry, the contact a
    sync-created contact would have (`contact_id_for`), and the company of its
    domain; only a contact found under another id (created by a merge or an
    edit) or at another company costs a second read. Then one timeline read each.
    """
    emails = [email for email, _ in pairs]
    guessed = {email: contact_id_for(email) for email in emails}
    domains = {email: company_domain(email) for email in emails}
    refs = ([repo.email_ref(e) for e in emails] + [repo.contact_ref(guessed[e]) for e in emails]
            + [repo.company_ref(d) for d in dict.fromkeys(domains.values()) if d])
    index: dict[str, str] = {}
    contacts: dict[str, Contact] = {}
    companies: dict[str, Company] = {}
    for snapshot in repo.get_all(refs):
        kind = snapshot.reference.parent.id
        if kind == "emails":
            index[unquote(snapshot.id)] = snapshot.get("contact_id")
        elif kind == "contacts":
            contacts[snapshot.id] = contact_from_doc(snapshot)
        else:
            companies[unquote(snapshot.id)] = company_from_doc(snapshot)
    missing = [cid for cid in index.values() if cid not in contacts]
    contacts.update(repo.get_contacts(missing) if missing else {})
    for contact_id, contact in list(contacts.items()):
        if contact.merged_into:
            try:
                contacts[contact_id] = repo.get_contact(contact.merged_into, follow_alias=False)
            except NotFound:
                contacts.pop(contact_id)
    people = [Person(email=email, display_name=name, contact=contacts.get(index.get(email, "")))
              for email, name in pairs]
    other = {p.contact.company_id for p in people if p.contact and p.contact.company_id} - set(companies)
    companies.update(repo.get_companies(other) if other else {})
    for person in people:
        domain = person.contact.company_id if person.contact else domains[person.email]
        person.company = companies.get(domain) if domain else None
        if person.contact is not None:
            fill_timeline(repo, person, since=since)
    return people


def settings_and_message(repo: Repository, rep: str, message_id: str) -> tuple[Settings, dict | None]:
    """The tenant's settings and whether the message is recorded, in one batched read.

    The message itself is then read by `Repository.get_message` only when it
    points at an activity; a message the add-on recorded carries its people.
    """
    settings, recorded = Settings(), None
    for snapshot in repo.get_all([repo.root, repo.message_ref(rep, message_id)]):
        if snapshot.reference.path == repo.root.path:
            settings = settings_from_doc((snapshot.to_dict() or {}).get("settings"))
        else:
            recorded = snapshot.to_dict()
    return settings, recorded


def fill_timeline(repo: Repository, person: Person, cursor: str | None = None,
                  since: dt.datetime | None = None) -> Person:
    contact: Contact = person.contact
    page = repo.timeline(contact.id, cursor=cursor, contact=contact, since=since)
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
