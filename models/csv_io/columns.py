"""Which field each column of a spreadsheet fills.

Header names are matched case-insensitively: HubSpot's export ("First Name",
"Email", "Phone Number", "Job Title", "Company Name", "Website URL",
"Lifecycle Stage", "Contact owner", "Additional email addresses"), Google
Contacts' old and new exports ("Given Name"/"First Name", "Family Name",
"E-mail N - Value", "Phone N - Value", "Organization 1 - Name"/"Organization
Name", "Labels"/"Group Membership"), Outlook's, and our own export. A column
named by a tenant custom field's key or label fills that field. `--map
"Column=field"` overrides all of these (`Column=` ignores a column). Every
other column is ignored and listed in the report.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from models.csv_io.reading import CsvImportError
from models.domain import Settings

# What a column can fill. "emails" holds one or several addresses; "ignore" is a
# known column we export but never import (ids, dates that sync owns).
TARGETS = ("first_name", "middle_name", "last_name", "name", "email", "emails", "phone", "title",
           "company_name", "company_domain", "lifecycle_stage", "owner", "tags", "ignore")

# The headers each target is known by (compared by `header_key`).
_KNOWN_HEADERS: dict[str, tuple[str, ...]] = {
    "first_name": ("first name", "firstname", "given name", "first"),
    "middle_name": ("middle name", "additional name"),
    "last_name": ("last name", "lastname", "family name", "surname", "last"),
    "name": ("name", "full name", "contact name", "display name"),
    "email": ("email", "e-mail", "email address", "e-mail address", "primary email", "work email"),
    "emails": ("emails", "additional email addresses", "other emails", "secondary email", "e-mail 2 address",
               "e-mail 3 address"),
    "phone": ("phone", "phone number", "mobile phone number", "mobile phone", "mobile", "business phone",
              "work phone", "telephone"),
    "title": ("job title", "title", "organization title", "position"),
    "company_name": ("company name", "company", "organization", "organization name", "associated company"),
    "company_domain": ("website url", "website", "web page", "company domain name", "company domain", "domain"),
    "lifecycle_stage": ("lifecycle stage", "lifecyclestage", "stage"),
    "owner": ("contact owner", "owner", "hubspot owner", "owner email"),
    "tags": ("tags", "tag", "labels", "group membership"),
    # read-only columns of our own export (and HubSpot's record id)
    "ignore": ("contact id", "record id", "source", "created", "last activity", "create date",
               "last activity date", "job change", "moved to", "moved to email"),
}
COLUMN_ALIASES: dict[str, str] = {header: target for target, headers in _KNOWN_HEADERS.items() for header in headers}
# Google Contacts numbers repeated columns: "E-mail 2 - Value", "Phone 1 - Value", ...
COLUMN_PATTERNS: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"^e-?mail \d+ - value$"), "emails"),
    (re.compile(r"^phone \d+ - value$"), "phone"),
    (re.compile(r"^organi[sz]ation \d+ - name$"), "company_name"),
    (re.compile(r"^organi[sz]ation \d+ - title$"), "title"),
)


def header_key(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").strip().strip('"').casefold().split())


@dataclasses.dataclass
class ColumnPlan:
    """For each column of the file, what it fills: a TARGETS name, `custom:<key>`, or None (ignored)."""

    targets: list[str | None]
    headers: list[str]

    @property
    def ignored(self) -> list[str]:
        return [h for h, t in zip(self.headers, self.targets, strict=True) if t is None and h.strip()]


def plan_columns(header: list[str], settings: Settings, mapping: Mapping[str, str] | None = None) -> ColumnPlan:
    """Decide what each column fills (module doc); CsvImportError for a mapping that cannot apply."""
    definitions = [d for d in settings.custom_fields if d.applies_to == "contact"]
    by_custom_name: dict[str, str] = {}
    for definition in definitions:
        by_custom_name[header_key(definition.label)] = definition.key
        by_custom_name[header_key(definition.key)] = definition.key
    keys = [header_key(h) for h in header]
    overrides: dict[str, str | None] = {}
    for column, target in (mapping or {}).items():
        column_key = header_key(column)
        if column_key not in keys:
            raise CsvImportError(f"--map names a column the file does not have: {column!r} "
                               f"(columns: {', '.join(h for h in header if h.strip())})")
        wanted = target.strip()
        if not wanted or wanted in ("-", "ignore"):
            overrides[column_key] = None
        elif wanted in TARGETS:
            overrides[column_key] = wanted
        elif header_key(wanted) in by_custom_name:
            overrides[column_key] = "custom:" + by_custom_name[header_key(wanted)]
        else:
            raise CsvImportError(f"--map {column}={target}: unknown field {target!r} (fields: "
                               f"{', '.join(t for t in TARGETS if t != 'ignore')}, or a custom field's key or label)")
    targets: list[str | None] = []
    for key in keys:
        if key in overrides:
            targets.append(overrides[key])
        elif key in by_custom_name:
            targets.append("custom:" + by_custom_name[key])
        elif key in COLUMN_ALIASES:
            targets.append(COLUMN_ALIASES[key])
        else:
            targets.append(next((target for pattern, target in COLUMN_PATTERNS if pattern.match(key)), None))
    if not any(t in ("email", "emails") for t in targets):
        raise CsvImportError("no column holds email addresses (looked for 'Email', 'E-mail 1 - Value', ...); "
                           "name one with --map 'Column=email'")
    return ColumnPlan(targets, list(header))


