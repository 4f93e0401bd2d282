"""Validating one row of a spreadsheet into a contact-shaped value.

Each row is validated whole and either taken whole or rejected with every
reason, by the rules a card applies (`models.rules`, so a tag the card refuses
is refused here with the same words): no email, an invalid email, a name or
title over its length, a bad tag, an unknown lifecycle stage, a custom value of
the wrong type, a phone number that cannot be read as a valid number (numbers
without "+" need a default region), or more values than the header has
columns. An owner that is not an email address is a warning, and the default
owner is used.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlparse

from models import rules
from models.addresses import company_domain, is_valid_email, name_parts, normalize_email, registrable_domain
from models.csv_io.columns import ColumnPlan
from models.csv_io.reading import split_list, unescape
from models.domain import Contact, CustomFieldDefinition, parse_lifecycle_stage

GOOGLE_SYSTEM_LABEL_PREFIX = "*"  # "* myContacts", "* starred": Google's groups, not the team's tags


@dataclasses.dataclass
class ParsedRow:
    """One valid row: a contact-shaped value plus what does not live on the contact."""

    line: int
    contact: Contact  # id "", lifecycle_stage "" when the row has none
    company_name: str = ""
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ImportOptions:
    """How rows are read: the default owner, the region for phone numbers without '+', the tenant's free mail."""

    owner: str | None = None
    region: str | None = None  # ISO 3166 code, e.g. "US", "GB"
    free_mail: tuple[str, ...] = ()  # Settings.free_mail_domains: addresses there file under no company


def website_domain(text: str) -> str | None:
    """The registrable domain of a website cell ("https://www.acme.co.uk/about" -> "acme.co.uk")."""
    text = text.strip()
    if not text:
        return None
    host = urlparse(text if "//" in text else "//" + text).hostname or ""
    return registrable_domain(host)


def parse_row(line: int, cells: list[str], plan: ColumnPlan, definitions: dict[str, CustomFieldDefinition],
              options: ImportOptions) -> ParsedRow:
    """Validate one row whole; ValueError carrying every reason it cannot be imported."""
    problems: list[str] = []
    warnings: list[str] = []
    if len(cells) > len(plan.targets) and any(cell.strip() for cell in cells[len(plan.targets):]):
        problems.append(f"it has {len(cells)} values but the header has {len(plan.targets)} columns "
                        "(an unquoted separator inside a value?)")
    values: dict[str, list[str]] = {}
    for target, cell in zip(plan.targets, cells, strict=False):
        cell = unescape(cell)
        if target is not None and target != "ignore" and cell:
            values.setdefault(target, []).append(cell)

    def first(target: str) -> str:
        return values.get(target, [""])[0]

    def check(rule, *args):
        try:
            return rule(*args)
        except rules.Invalid as exc:
            problems.append(str(exc))
            return None

    emails: list[str] = []
    for cell in [*values.get("email", []), *values.get("emails", [])]:
        for part in split_list(cell):
            email = normalize_email(part)
            if not is_valid_email(email):
                problems.append(f"invalid email {part!r}")
            elif email not in emails:
                emails.append(email)
    if not emails and not any("email" in p for p in problems):
        problems.append("no email address")

    contact = Contact(id="", emails=emails, lifecycle_stage="", source="import")
    contact.first_name, contact.middle_name, contact.last_name = first("first_name"), first("middle_name"), \
        first("last_name")
    if first("name") and not (contact.first_name or contact.last_name):
        contact.first_name, contact.middle_name, contact.last_name = name_parts(first("name"), "")
    contact.title = first("title")
    check(rules.check_person, contact.first_name, contact.middle_name, contact.last_name, contact.title)
    if first("phone"):
        phones = split_list(first("phone"))
        contact.phone = check(rules.parse_phone, phones[0] if phones else "", options.region) or ""
    if first("lifecycle_stage"):
        try:
            contact.lifecycle_stage = parse_lifecycle_stage(first("lifecycle_stage"))
        except ValueError as exc:
            problems.append(str(exc))
    owner = first("owner")
    if owner:
        if is_valid_email(normalize_email(owner)):
            contact.owner = normalize_email(owner)
        else:
            warnings.append(f"owner {owner!r} is not an email address; "
                            + (f"used {options.owner}" if options.owner else "left without an owner"))
    if not contact.owner:
        contact.owner = options.owner
    for cell in values.get("tags", []):
        for raw in split_list(cell):
            if raw.startswith(GOOGLE_SYSTEM_LABEL_PREFIX):
                continue
            tag = check(rules.check_tag, raw)
            if tag and not rules.has_tag(contact.tags, tag):
                contact.tags.append(tag)
    check(rules.check_tag_count, contact.tags)
    typed = {target.removeprefix("custom:"): cells_of[0] for target, cells_of in values.items()
             if target.startswith("custom:")}
    contact.custom = check(rules.apply_custom_values, definitions.values(), typed) or {}
    explicit = first("company_domain")
    domain = website_domain(explicit) if explicit else None
    if explicit and domain is None:
        warnings.append(f"company domain {explicit!r} is not a domain; ignored")
    contact.company_id = domain or next((d for d in (company_domain(e, options.free_mail) for e in emails) if d), None)
    company_name = first("company_name")
    if company_name and not contact.company_id:
        warnings.append(f"company {company_name!r} not recorded: no company domain (free-mail address, no website)")
    if problems:
        raise ValueError("; ".join(problems))
    return ParsedRow(line, contact, company_name, warnings)
