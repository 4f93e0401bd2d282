"""What a value must be before Sidecar stores it: one rule for the card, the CSV import and sync.

A rep types a tag on a card, a spreadsheet carries one in a column, sync
names a company it has never seen: each goes through the same function here,
so the import cannot accept what the card refuses, and it refuses it with the
same words. Every check raises `Invalid`, whose message is written for the
person who typed the value (the card shows it, the import's report lists it).

Nothing here reads or writes the store (pure functions over domain objects, so
`cards/` may quote a bound in a hint); `models.job_changes` is the operation
that applies `apply_job_change` through the repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers

from models.addresses import ascii_domain, canonical_domain, is_internal, is_valid_email, normalize_email
from models.domain import Company, Contact, CustomFieldDefinition

TAG_MAX_LENGTH = 50  # characters in one tag
TAGS_MAX = 50  # tags on one contact
TAG_PATTERN = re.compile(r"^[A-Za-z0-9 _-]+$")
NAME_MAX = 100  # characters in a first, middle or last name, and in a company name
TITLE_MAX = 200
NOTE_MAX = 10_000  # characters in a note or call summary
PHONE_EXAMPLE = "+44 20 7946 0000"  # Ofcom's range reserved for drama: never a real line


class Invalid(ValueError):
    """What a person typed cannot be saved; the message says why, in their words."""


# --- text -----------------------------------------------------------------------------------

def check_length(value: str, label: str, limit: int) -> str:
    if len(value) > limit:
        raise Invalid(f"{label} is {len(value):,} characters; {limit:,} at most.")
    return value


def check_person(first: str = "", middle: str = "", last: str = "", title: str = "") -> None:
    """A person's name parts and job title, each within its bound; Invalid naming every one that is not."""
    problems = []
    for value, label, limit in ((first, "First name", NAME_MAX), (middle, "Middle name", NAME_MAX),
                                (last, "Last name", NAME_MAX), (title, "Title", TITLE_MAX)):
        try:
            check_length(value, label, limit)
        except Invalid as exc:
            problems.append(str(exc))
    if problems:
        raise Invalid(" ".join(problems))


def check_company_name(raw: str) -> str:
    """A company's name with its white space folded; a company always has one."""
    name = " ".join(raw.split())
    if not name:
        raise Invalid("A company needs a name.")
    return check_length(name, "Company name", NAME_MAX)


def check_note(body: str) -> str:
    """The text of a note or a logged call, trimmed."""
    if not body.strip():
        raise Invalid("Write something first.")
    check_length(body, "This text", NOTE_MAX)
    return body.strip()


# --- tags -----------------------------------------------------------------------------------

def check_tag(raw: str) -> str:
    """A tag as stored: white space folded, letters, digits, spaces, - and _ only."""
    tag = " ".join(raw.split())
    if not tag:
        raise Invalid("Type a tag first.")
    if len(tag) > TAG_MAX_LENGTH:
        raise Invalid(f"A tag has at most {TAG_MAX_LENGTH} characters.")
    if not TAG_PATTERN.match(tag):
        raise Invalid(f"{tag} is not a tag: a tag may hold letters, digits, spaces, - and _ only.")
    return tag


def has_tag(tags: Iterable[str], tag: str) -> bool:
    """Tags compare without case: "VIP" is already there when "vip" is."""
    wanted = tag.casefold()
    return any(t.casefold() == wanted for t in tags)


def check_tag_count(tags: list[str]) -> None:
    if len(tags) > TAGS_MAX:
        raise Invalid(f"A contact has at most {TAGS_MAX} tags.")


def add_tag(tags: list[str], raw: str) -> str:
    """Append the tag `raw` names to `tags`, or Invalid (a bad tag, one already there, one too many)."""
    tag = check_tag(raw)
    if has_tag(tags, tag):
        raise Invalid(f"{tag} is already a tag.")
    check_tag_count([*tags, tag])
    tags.append(tag)
    return tag


# --- phones, owners, custom fields ------------------------------------------------------------

def phone_region(code: str | None) -> str | None:
    """The region code ("gb " -> "GB") numbers without "+" are read in, or None if phonenumbers has no such region."""
    region = (code or "").strip().upper()
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def region_of_locale(locale: str | None) -> str | None:
    """The region a locale names ("en-GB", "pt_BR" -> "GB", "BR"), for numbers typed without "+"."""
    parts = (locale or "").replace("_", "-").split("-")
    return phone_region(parts[1]) if len(parts) > 1 else None


def parse_phone(raw: str, region: str | None = None) -> str:
    """A phone number in E.164 (`+442079460000`); "" for a blank one; Invalid saying why not.

    Without "+", the number is read in `region` (the card's locale, the import's
    --region); without either, it cannot be read.
    """
    text = raw.strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        hint = "" if region or text.startswith("+") else f"; start it with its country code, e.g. {PHONE_EXAMPLE}"
        raise Invalid(f"invalid phone number {text!r}{hint}") from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid(f"invalid phone number {text!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_teammate(raw: str, tenant: str, internal_domains: Iterable[str] = ()) -> str:
    """The address of someone on the team (an owner): the tenant's domain or one of its own."""
    email = normalize_email(raw)
    if not is_valid_email(email):
        raise Invalid(f"{raw or 'An empty value'} is not an email address.")
    if not is_internal(email, (tenant, *internal_domains)):
        raise Invalid(f"The owner must be a teammate at {tenant}.")
    return email


def apply_custom_values(definitions: Iterable[CustomFieldDefinition], typed: Mapping[str, str],
                        current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`current` with each typed value parsed by its definition (a blank one clears the field).

    Only definitions whose key is in `typed` change anything. Raises Invalid
    listing every value of the wrong type, so a person fixes them all at once.
    """
    custom = dict(current or {})
    problems = []
    for definition in definitions:
        if definition.key not in typed:
            continue
        try:
            value = definition.parse(typed[definition.key])
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if value is None:
            custom.pop(definition.key, None)
        else:
            custom[definition.key] = value
    if problems:
        raise Invalid("; ".join(problems))
    return custom


# --- the tenant's own lists: its other domains, its machine senders, its free-mail domains ----------

LIST_ENTRIES_MAX = 500  # entries in one of the lists below (the admin card shows each in one text box)
DOMAIN_PATTERN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
MACHINE_PATTERN = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~@-]+$")  # a shell-style pattern over an ASCII address


def check_domain(raw: str) -> str:
    """A domain as the tenant's lists store it: canonical (IDN in Unicode, see models.addresses)."""
    domain = canonical_domain(raw.strip().lstrip("@"))
    spelled = ascii_domain(domain)
    if not spelled or not DOMAIN_PATTERN.match(spelled):
        raise Invalid(f"{raw.strip() or 'An empty value'} is not a domain (e.g. acme-labs.com).")
    return domain


def check_machine_entry(raw: str) -> str:
    """An address, a domain (covering its subdomains) or a pattern with * (`*-bot@*`): models.addresses.machine_rule."""
    entry = raw.strip().lower()
    if "*" in entry or "?" in entry:
        if not MACHINE_PATTERN.match(entry) or entry.strip("*?@.") == "":
            raise Invalid(f"{raw.strip()} is too wide a pattern: name part of an address, e.g. *-bot@*.")
        return entry
    if "@" in entry.lstrip("@"):
        address = normalize_email(entry)
        if not is_valid_email(address):
            raise Invalid(f"{raw.strip()} is not an email address.")
        return address
    return check_domain(entry)


def check_entries(text: str, check, label: str) -> list[str]:
    """One entry a line (or separated by commas), each checked, duplicates dropped; Invalid naming every bad one."""
    entries, problems = [], []
    for raw in re.split(r"[\n,;]+", text or ""):
        if not raw.strip():
            continue
        try:
            entry = check(raw)
        except Invalid as exc:
            problems.append(str(exc))
            continue
        if entry not in entries:
            entries.append(entry)
    if problems:
        raise Invalid(f"{label}: " + " ".join(problems))
    if len(entries) > LIST_ENTRIES_MAX:
        raise Invalid(f"{label}: at most {LIST_ENTRIES_MAX} entries.")
    return entries


# --- companies and job changes ----------------------------------------------------------------

def company_name_for(domain: str) -> str:
    """A first guess at a company's name from its registrable domain, for the rep to correct.

    The first label, split at hyphens and underscores, each word capitalised:
    `acme-labs.co.uk` -> "Acme Labs", `globex.com` -> "Globex". Chosen over
    capitalising the label whole ("Acme-labs", what sync once wrote): in a
    domain a hyphen nearly always stands for a space in the name. An
    internationalised label (`xn--...`) is decoded first.
    """
    label = domain.strip().lower().split(".", 1)[0]
    if label.startswith("xn--"):
        try:
            label = label.encode("ascii").decode("idna")
        except UnicodeError:
            pass
    return " ".join(word.capitalize() for word in re.split(r"[-_]+", label) if word) or domain


def new_company(domain: str) -> Company:
    """The company a contact at `domain` is filed under when none exists yet."""
    return Company(id=domain, name=company_name_for(domain))


def apply_job_change(contact: Contact, company_id: str, new_email: str = "") -> None:
    """The person now works at `company_id`: it becomes current, the old one goes to
    `previous_companies`, the address seen there becomes the primary one, and the flag is cleared."""
    old = contact.company_id
    previous = [c for c in contact.previous_companies if c != company_id]
    if old and old != company_id and old not in previous:
        previous.append(old)
    contact.company_id, contact.previous_companies, contact.job_change = company_id, previous, None
    if new_email in contact.emails:
        contact.emails = [new_email, *(e for e in contact.emails if e != new_email)]
