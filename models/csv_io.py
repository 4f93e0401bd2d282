"""Spreadsheet import and export of contacts (SPEC §8: teams leaving spreadsheets).

Reading a file. Bytes are decoded as UTF-8 (a BOM is dropped; a UTF-16 BOM, as
Excel's "Unicode text" writes, is honoured); a file that is not UTF-8 is read as
Windows-1252, the encoding Excel uses for "CSV" on Western Windows, and the
report says so. The separator is whichever of comma, semicolon and tab occurs
most in the header line (Excel writes semicolons where the decimal mark is a
comma); quoted fields, separators and line breaks inside quotes, and blank lines
are handled by the `csv` module. A cell that an export protected against
formula injection (`'=...`) loses its apostrophe again.

Columns. Header names are matched case-insensitively: HubSpot's export
("First Name", "Email", "Phone Number", "Job Title", "Company Name", "Website
URL", "Lifecycle Stage", "Contact owner", "Additional email addresses"), Google
Contacts' old and new exports ("Given Name"/"First Name", "Family Name", "E-mail
N - Value", "Phone N - Value", "Organization 1 - Name"/"Organization Name",
"Labels"/"Group Membership"), Outlook's, and our own export. A column named by a
tenant custom field's key or label fills that field. `--map "Column=field"`
overrides all of these (`Column=` ignores a column). Every other column is
ignored and listed in the report.

Rows. Each row is validated whole and either taken whole or rejected with its
line number and every reason: no email, an invalid email, an unknown lifecycle
stage, a custom value of the wrong type, a phone number phonenumbers cannot
read as a valid number (numbers without "+" need a default region), more
values than the header has columns, or addresses that belong to two different
existing contacts. An owner that is not an email address is a warning, and
the default owner is used.

Dedupe and the merge rule. Rows are matched on email, case-insensitively,
against the address index (every existing contact's addresses) and against
earlier rows of the same file. A row that matches folds into the earlier row
or the existing contact by `models.merge.absorb`: empty fields are filled,
emails and tags are unioned, a non-empty value is never overwritten (the
ignored value is reported as a warning). The row that first names a contact
counts as imported (created, updated or unchanged); later rows for it count as
merged. So imported + merged + rejected + blank = rows.

Writes. The result is compared with what is stored and only differences are
written: importing the same file twice writes nothing the second time. New
contacts get sync's deterministic id for their primary address, so an import
and a sync that meet the same person make one contact. A contact's writes (its
document, its addresses in the index, its name and search index rows) always
share one batch (at most 500 writes), so a crash leaves whole contacts, and a
rerun finishes the rest. New addresses are flagged `link_pending`, so sync's
next pass links the activities it parked for them.
Companies are written after the contacts.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import io
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any, TextIO
from urllib.parse import urlparse

import phonenumbers
from google.cloud import firestore

from models.addresses import (
    company_domain,
    is_valid_email,
    name_key,
    name_parts,
    normalize_email,
    registrable_domain,
)
from models.domain import (
    DEFAULT_LIFECYCLE_STAGE,
    LIFECYCLE_STAGES,
    Company,
    Contact,
    CustomFieldDefinition,
    Settings,
    parse_lifecycle_stage,
    utcnow,
)
from models.merge import absorb
from models.repository import (
    COMPANY_CONTACT_SAMPLE,
    FIRESTORE_BATCH_MAX,
    Repository,
    company_from_doc,
    contact_from_doc,
    contact_id_for,
    contact_to_doc,
    new_id,
)

log = logging.getLogger(__name__)

LIST_SEPARATOR = "; "  # how exports join emails and tags; imports split on ";" and Google's ":::"
_LIST_SPLIT = re.compile(r"\s*(?::::|;)\s*")
_SEPARATORS = (",", ";", "\t")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: cells a spreadsheet may run as a formula
GOOGLE_SYSTEM_LABEL_PREFIX = "*"  # "* myContacts", "* starred": Google's groups, not the team's tags
WARNINGS_SHOWN = 50  # the printed report lists this many warnings; --report has them all

# What a column can fill. "emails" holds one or several addresses; "ignore" is a
# known column we export but never import (ids, dates that sync owns).
TARGETS = ("first_name", "middle_name", "last_name", "name", "email", "emails", "phone", "title",
           "company_name", "company_domain", "lifecycle_stage", "owner", "tags", "ignore")

COLUMN_ALIASES: dict[str, str] = {
    # names
    "first name": "first_name", "firstname": "first_name", "given name": "first_name", "first": "first_name",
    "middle name": "middle_name", "additional name": "middle_name",
    "last name": "last_name", "lastname": "last_name", "family name": "last_name", "surname": "last_name",
    "last": "last_name",
    "name": "name", "full name": "name", "contact name": "name", "display name": "name",
    # addresses
    "email": "email", "e-mail": "email", "email address": "email", "e-mail address": "email",
    "primary email": "email", "work email": "email",
    "emails": "emails", "additional email addresses": "emails", "other emails": "emails",
    "secondary email": "emails", "e-mail 2 address": "emails", "e-mail 3 address": "emails",
    # phone, title, company
    "phone": "phone", "phone number": "phone", "mobile phone number": "phone", "mobile phone": "phone",
    "mobile": "phone", "business phone": "phone", "work phone": "phone", "telephone": "phone",
    "job title": "title", "title": "title", "organization title": "title", "position": "title",
    "company name": "company_name", "company": "company_name", "organization": "company_name",
    "organization name": "company_name", "associated company": "company_name",
    "website url": "company_domain", "website": "company_domain", "web page": "company_domain",
    "company domain name": "company_domain", "company domain": "company_domain", "domain": "company_domain",
    # CRM fields
    "lifecycle stage": "lifecycle_stage", "lifecyclestage": "lifecycle_stage", "stage": "lifecycle_stage",
    "contact owner": "owner", "owner": "owner", "hubspot owner": "owner", "owner email": "owner",
    "tags": "tags", "tag": "tags", "labels": "tags", "group membership": "tags",
    # read-only columns of our own export (and HubSpot's record id)
    "contact id": "ignore", "record id": "ignore", "source": "ignore", "created": "ignore",
    "last activity": "ignore", "create date": "ignore", "last activity date": "ignore",
}
# Google Contacts numbers repeated columns: "E-mail 2 - Value", "Phone 1 - Value", ...
COLUMN_PATTERNS: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"^e-?mail \d+ - value$"), "emails"),
    (re.compile(r"^phone \d+ - value$"), "phone"),
    (re.compile(r"^organi[sz]ation \d+ - name$"), "company_name"),
    (re.compile(r"^organi[sz]ation \d+ - title$"), "title"),
)

CONTACT_EXPORT_COLUMNS = ("Contact ID", "First Name", "Middle Name", "Last Name", "Emails", "Phone Number",
                          "Job Title", "Company Domain", "Company Name", "Contact owner", "Lifecycle Stage",
                          "Tags")
CONTACT_EXPORT_TRAILER = ("Source", "Created", "Last Activity")
COMPANY_EXPORT_COLUMNS = ("Company Domain Name", "Company Name", "Created", "Last Activity")


class CsvImportError(ValueError):
    """The file as a whole cannot be imported (nothing was written); the message says why."""


# --- the report ------------------------------------------------------------------------------

CREATED, UPDATED, UNCHANGED, MERGED, REJECTED, BLANK = "created", "updated", "unchanged", "merged", "rejected", "blank"
IMPORTED_OUTCOMES = (CREATED, UPDATED, UNCHANGED)


@dataclasses.dataclass
class RowOutcome:
    """What became of one data row of the file."""

    line: int  # the file's line where the row starts (the header is line 1)
    outcome: str  # created, updated, unchanged, merged, rejected, blank
    email: str = ""
    contact_id: str = ""
    detail: str = ""  # why it was rejected, or which line it merged into


@dataclasses.dataclass
class ImportReport:
    """Accounts for every row: imported (created + updated + unchanged) + merged + rejected + blank = rows."""

    rows: list[RowOutcome] = dataclasses.field(default_factory=list)
    warnings: list[RowOutcome] = dataclasses.field(default_factory=list)
    ignored_columns: list[str] = dataclasses.field(default_factory=list)
    columns: dict[str, str] = dataclasses.field(default_factory=dict)  # header -> what it filled
    notes: list[str] = dataclasses.field(default_factory=list)
    contacts_written: int = 0
    companies_written: int = 0
    writes: int = 0
    dry_run: bool = False

    def count(self, *outcomes: str) -> int:
        return sum(1 for row in self.rows if row.outcome in outcomes)

    @property
    def imported(self) -> int:
        return self.count(*IMPORTED_OUTCOMES)

    @property
    def rejected(self) -> list[RowOutcome]:
        return [row for row in self.rows if row.outcome == REJECTED]

    def lines(self) -> list[str]:
        """The human report the CLI prints."""
        verb = "would write" if self.dry_run else "wrote"
        out = [f"rows: {len(self.rows)}  imported: {self.imported} (created {self.count(CREATED)}, "
               f"updated {self.count(UPDATED)}, unchanged {self.count(UNCHANGED)})  merged: {self.count(MERGED)}  "
               f"rejected: {self.count(REJECTED)}  blank: {self.count(BLANK)}",
               f"{verb} {self.contacts_written} contacts and {self.companies_written} companies "
               f"({self.writes} document writes)" + ("  [dry run: nothing was written]" if self.dry_run else "")]
        out += [f"note: {note}" for note in self.notes]
        if self.ignored_columns:
            out.append("ignored columns: " + ", ".join(self.ignored_columns))
        for row in self.rejected:
            out.append(f"line {row.line}: rejected: {row.detail}")
        for row in self.warnings[:WARNINGS_SHOWN]:
            out.append(f"line {row.line}: warning: {row.detail}")
        if len(self.warnings) > WARNINGS_SHOWN:
            out.append(f"... and {len(self.warnings) - WARNINGS_SHOWN} more warnings (see --report)")
        return out

    def write_csv(self, out: TextIO) -> None:
        """One line per row of the imported file, then the warnings."""
        writer = csv.writer(out)
        writer.writerow(["line", "outcome", "email", "contact_id", "detail"])
        for row in [*self.rows, *self.warnings]:
            writer.writerow([row.line, row.outcome, row.email, row.contact_id, row.detail])


# --- reading the file ------------------------------------------------------------------------

def decode(data: bytes) -> tuple[str, list[str]]:
    """The file's text and notes on how it was read (see module doc)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), []
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), ["read as UTF-16 (the file starts with a UTF-16 byte order mark)"]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        note = (f"the file is not UTF-8 (byte {exc.start}); read it as Windows-1252. "
                "Save it as 'CSV UTF-8' if accented letters look wrong")
        return data.decode("cp1252", errors="replace"), [note]


def sniff_separator(text: str) -> str:
    """The separator of the header line: the most frequent of comma, semicolon and tab (comma on a tie)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {sep: unquoted.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_table(text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]], str]:
    """(header, (line, cells) for each row after it, separator); blank lines come back as empty rows."""
    separator = sniff_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    header: list[str] | None = None
    for cells in reader:
        if any(cell.strip() for cell in cells):
            header = cells
            break
    if header is None:
        raise CsvImportError("the file is empty: it has no header row")

    def rows() -> Iterator[tuple[int, list[str]]]:
        start = reader.line_num + 1
        try:
            for cells in reader:
                yield start, cells
                start = reader.line_num + 1
        except csv.Error as exc:
            raise CsvImportError(f"line {reader.line_num}: the file is not valid CSV ({exc})") from None

    return header, rows(), separator


def _unescape(cell: str) -> str:
    cell = cell.strip()
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _FORMULA_STARTS:
        return cell[1:]
    return cell


def _header_key(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").strip().strip('"').casefold().split())


# --- columns ---------------------------------------------------------------------------------

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
        by_custom_name[_header_key(definition.label)] = definition.key
        by_custom_name[_header_key(definition.key)] = definition.key
    keys = [_header_key(h) for h in header]
    overrides: dict[str, str | None] = {}
    for column, target in (mapping or {}).items():
        column_key = _header_key(column)
        if column_key not in keys:
            raise CsvImportError(f"--map names a column the file does not have: {column!r} "
                               f"(columns: {', '.join(h for h in header if h.strip())})")
        wanted = target.strip()
        if not wanted or wanted in ("-", "ignore"):
            overrides[column_key] = None
        elif wanted in TARGETS:
            overrides[column_key] = wanted
        elif _header_key(wanted) in by_custom_name:
            overrides[column_key] = "custom:" + by_custom_name[_header_key(wanted)]
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


# --- rows ------------------------------------------------------------------------------------

@dataclasses.dataclass
class ParsedRow:
    """One valid row: a contact-shaped value plus what does not live on the contact."""

    line: int
    contact: Contact  # id "", lifecycle_stage "" when the row has none
    company_name: str = ""
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ImportOptions:
    """How rows are read: the default owner and the region for phone numbers without '+'."""

    owner: str | None = None
    region: str | None = None  # ISO 3166 code, e.g. "US", "GB"


def _split_list(value: str) -> list[str]:
    return [part for part in _LIST_SPLIT.split(value) if part]


def parse_phone(text: str, region: str | None) -> str:
    """E.164 form of a phone number; ValueError saying why not."""
    first = _split_list(text)[0] if _split_list(text) else text
    try:
        number = phonenumbers.parse(first, region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region or first.lstrip().startswith("+") else \
            " (no country code: start it with + or pass --region)"
        raise ValueError(f"invalid phone number {text!r}{hint}: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"invalid phone number {text!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
        cell = _unescape(cell)
        if target is not None and target != "ignore" and cell:
            values.setdefault(target, []).append(cell)

    def first(target: str) -> str:
        return values.get(target, [""])[0]

    emails: list[str] = []
    for cell in [*values.get("email", []), *values.get("emails", [])]:
        for part in _split_list(cell):
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
        full = first("name")
        contact.first_name, contact.middle_name, contact.last_name = name_parts(full, "")
    contact.title = first("title")
    if first("phone"):
        try:
            contact.phone = parse_phone(first("phone"), options.region)
        except ValueError as exc:
            problems.append(str(exc))
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
    tags: list[str] = []
    for cell in values.get("tags", []):
        for tag in _split_list(cell):
            tag = " ".join(tag.split())
            if tag and not tag.startswith(GOOGLE_SYSTEM_LABEL_PREFIX) and \
                    tag.casefold() not in {t.casefold() for t in tags}:
                tags.append(tag)
    contact.tags = tags
    for target, cells_of in values.items():
        if target.startswith("custom:"):
            definition = definitions[target.removeprefix("custom:")]
            try:
                contact.custom[definition.key] = definition.parse(cells_of[0])
            except ValueError as exc:
                problems.append(str(exc))
    explicit = first("company_domain")
    domain = website_domain(explicit) if explicit else None
    if explicit and domain is None:
        warnings.append(f"company domain {explicit!r} is not a domain; ignored")
    contact.company_id = domain or next((d for d in map(company_domain, emails) if d), None)
    company_name = first("company_name")
    if company_name and not contact.company_id:
        warnings.append(f"company {company_name!r} not recorded: no company domain (free-mail address, no website)")
    if problems:
        raise ValueError("; ".join(problems))
    return ParsedRow(line, contact, company_name, warnings)


# --- the import ------------------------------------------------------------------------------

@dataclasses.dataclass
class _Group:
    """The rows that make one contact: the first row's line, the merged value, the stored one if any."""

    line: int
    contact: Contact
    stored: Contact | None = None
    company_name: str = ""


def import_contacts(repo: Repository, data: bytes, *, mapping: Mapping[str, str] | None = None,
                    owner: str | None = None, region: str | None = None, dry_run: bool = False) -> ImportReport:
    """Import a CSV file's bytes into the repository's tenant; the report accounts for every row.

    Raises CsvImportError (nothing written) when the file as a whole cannot be read or mapped.
    """
    if owner is not None:
        owner = normalize_email(owner)
        if not is_valid_email(owner):
            raise CsvImportError(f"--owner must be an email address, got {owner!r}")
    if region is not None:
        region = region.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise CsvImportError(f"--region must be a two-letter country code such as US or GB, got {region!r}")
    report = ImportReport(dry_run=dry_run)
    text, report.notes = decode(data)
    header, rows, separator = read_table(text)
    if separator != ",":
        report.notes.append(f"columns are separated by {'a semicolon' if separator == ';' else 'a tab'}")
    settings = repo.get_settings()
    plan = plan_columns(header, settings, mapping)
    report.ignored_columns = plan.ignored
    report.columns = {h: t for h, t in zip(plan.headers, plan.targets, strict=True) if t}
    definitions = {d.key: d for d in settings.custom_fields if d.applies_to == "contact"}
    options = ImportOptions(owner=owner, region=region)

    parsed: list[ParsedRow] = []
    outcomes: dict[int, RowOutcome] = {}
    order: list[int] = []
    for line, cells in rows:
        order.append(line)
        if not any(cell.strip() for cell in cells):
            outcomes[line] = RowOutcome(line, BLANK)
            continue
        try:
            row = parse_row(line, cells, plan, definitions, options)
        except ValueError as exc:
            email = next((normalize_email(c) for c in cells if "@" in c), "")
            outcomes[line] = RowOutcome(line, REJECTED, email, detail=str(exc))
            continue
        parsed.append(row)
        report.warnings += [RowOutcome(line, "warning", row.contact.primary_email, detail=w) for w in row.warnings]

    groups = _group_rows(repo, parsed, outcomes, report)
    _assign_new_ids(repo, groups)
    for group in groups:
        if group.stored is None and not (group.contact.first_name or group.contact.last_name):
            group.contact.first_name, group.contact.middle_name, group.contact.last_name = \
                name_parts("", group.contact.primary_email)
        if group.stored is None and not group.contact.lifecycle_stage:
            group.contact.lifecycle_stage = DEFAULT_LIFECYCLE_STAGE
    _write(repo, groups, outcomes, report, dry_run)
    report.rows = [outcomes[line] for line in order]
    log.info("import tenant=%s rows=%d imported=%d merged=%d rejected=%d writes=%d dry_run=%s", repo.tenant,
             len(report.rows), report.imported, report.count(MERGED), report.count(REJECTED), report.writes, dry_run)
    return report


def _group_rows(repo: Repository, parsed: list[ParsedRow], outcomes: dict[int, RowOutcome],
                report: ImportReport) -> list[_Group]:
    """Fold rows that share an address into one group each, seeded with the stored contact when one exists."""
    index = repo.contact_ids_by_email(e for row in parsed for e in row.contact.emails)
    stored = repo.get_contacts(set(index.values()))
    aliases = {cid: c.merged_into for cid, c in stored.items() if c.merged_into}
    if aliases:
        stored.update(repo.get_contacts(set(aliases.values())))
    groups: dict[str, _Group] = {}  # by stored contact id, or "line:<n>" for a new one
    by_email: dict[str, str] = {}
    for row in parsed:
        keys = []
        for email in row.contact.emails:
            cid = index.get(email)
            key = aliases.get(cid, cid) if cid else by_email.get(email)
            if key and key not in keys:
                keys.append(key)
        if len(keys) > 1:
            held = ", ".join(f"line {groups[k].line}" if k.startswith("line:") else f"contact {k}" for k in keys)
            outcomes[row.line] = RowOutcome(row.line, REJECTED, row.contact.primary_email,
                                            detail=f"its addresses belong to different contacts ({held}); "
                                                   "merge those first")
            continue
        if not keys:
            key = f"line:{row.line}"
            groups[key] = _Group(row.line, row.contact, company_name=row.company_name)
            outcomes[row.line] = RowOutcome(row.line, CREATED, row.contact.primary_email)
        else:
            key = keys[0]
            group = groups.get(key)
            if group is None:  # the first row for a stored contact
                base = stored.get(key)
                if base is None:  # the index points at a contact that is gone: treat the row as new
                    key = f"line:{row.line}"
                    groups[key] = _Group(row.line, row.contact, company_name=row.company_name)
                    outcomes[row.line] = RowOutcome(row.line, CREATED, row.contact.primary_email)
                    for email in row.contact.emails:
                        by_email[email] = key
                    continue
                group = groups[key] = _Group(row.line, dataclasses.replace(
                    base, emails=list(base.emails), tags=list(base.tags), custom=dict(base.custom),
                    previous_companies=list(base.previous_companies)), stored=base)
                outcomes[row.line] = RowOutcome(row.line, UNCHANGED, row.contact.primary_email, key)
            else:
                outcomes[row.line] = RowOutcome(row.line, MERGED, row.contact.primary_email,
                                                detail=f"merged into line {group.line}")
            for conflict in absorb(group.contact, row.contact):
                report.warnings.append(RowOutcome(
                    row.line, "warning", row.contact.primary_email,
                    detail=f"{conflict.field}: kept {conflict.kept!r}, ignored {conflict.other!r}"))
            group.company_name = group.company_name or row.company_name
        for email in row.contact.emails:
            by_email[email] = key
    return list(groups.values())


def _assign_new_ids(repo: Repository, groups: list[_Group]) -> None:
    """Sync's deterministic id for the primary address, unless a document already uses it."""
    new = [g for g in groups if g.stored is None]
    taken = repo.get_contacts(contact_id_for(g.contact.primary_email) for g in new)
    for group in new:
        wanted = contact_id_for(group.contact.primary_email)
        group.contact.id = new_id("c") if wanted in taken else wanted


# Fields an import may change on a stored contact; the rest belong to sync or to merges.
_EDITABLE = ("first_name", "middle_name", "last_name", "title", "phone", "company_id", "owner",
             "lifecycle_stage", "emails", "tags", "custom")


def _changes(group: _Group) -> dict[str, Any]:
    """The document fields to write for a group: all of them for a new contact, else only differences."""
    contact = group.contact
    if group.stored is None:
        data = contact_to_doc(contact)
        for name in ("last_activity_at", "last_email_at", "last_meeting_at", "touches", "timeline_months"):
            data.pop(name)  # a concurrent sync may already have raised them: never reset
        for name in ("job_change", "merged_into"):
            if data[name] is None:
                data.pop(name)
        return data
    data: dict[str, Any] = {}
    for name in _EDITABLE:
        before, after = getattr(group.stored, name), getattr(contact, name)
        if before == after:
            continue
        if name in ("emails", "tags"):
            data[name] = firestore.ArrayUnion([v for v in after if v not in before])
        elif name == "custom":
            data["custom"] = {k: v for k, v in after.items() if before.get(k) != v}
        else:
            data[name] = after
    if data:
        data["updated_at"] = utcnow()
    return data


class _Unit:
    """The writes of one contact (or company) that must land in the same batch; a `writer` for indexes."""

    def __init__(self) -> None:
        self.writes: list[tuple[Any, dict[str, Any], bool]] = []

    def set(self, ref, data: dict[str, Any], merge: bool = False) -> None:
        self.writes.append((ref, data, merge))


def _write(repo: Repository, groups: list[_Group], outcomes: dict[int, RowOutcome], report: ImportReport,
           dry_run: bool) -> None:
    """Write what changed, a contact's documents and index rows always in one batch; then the companies.

    New addresses get `link_pending`, so sync links the activities it stored
    for them before anyone held them (`unlinked/{email}`); the name index
    (sync's job-change check) and the search index follow the contact.
    """
    units: list[_Unit] = []
    for group in groups:
        outcome = outcomes[group.line]
        outcome.contact_id = group.contact.id
        data = _changes(group)
        if not data:
            continue
        if group.stored is not None:
            outcome.outcome = UPDATED
        contact, stored = group.contact, group.stored
        unit = _Unit()
        old = set(stored.emails) if stored else set()
        if set(contact.emails) - old:
            data["link_pending"] = True
        unit.set(repo.contact_ref(contact.id), data, True)
        for email in contact.emails:
            if email not in old:
                unit.set(repo.email_ref(email), {"contact_id": contact.id, "domain": email.rpartition("@")[2]})
        new_key = name_key(contact.first_name, contact.last_name)
        old_key = name_key(stored.first_name, stored.last_name) if stored else None
        if new_key != old_key:
            if old_key:
                unit.set(repo.name_ref(old_key), {"contact_ids": firestore.ArrayRemove([contact.id])}, True)
            if new_key:
                unit.set(repo.name_ref(new_key), {"contact_ids": firestore.ArrayUnion([contact.id])}, True)
        repo.search_index.index_contact(unit, contact, previous=stored)
        units.append(unit)
    company_units = _company_writes(repo, groups)
    report.contacts_written = len(units)
    report.companies_written = len(company_units)
    report.writes = sum(len(u.writes) for u in [*units, *company_units])
    if dry_run:
        return
    pending: list[tuple[Any, dict[str, Any], bool]] = []
    for unit in [*units, *company_units]:
        if len(pending) + len(unit.writes) > FIRESTORE_BATCH_MAX:
            _commit(repo, pending)
            pending = []
        pending += unit.writes
    _commit(repo, pending)


def _commit(repo: Repository, writes: list[tuple[Any, dict[str, Any], bool]]) -> None:
    """One atomic batch; the search rows of its contacts folded into one write per prefix document.

    Hundreds of contacts share a handful of two-letter prefixes; folding their
    field-level merges (`{contacts: {id: row}}`) into one merge per document
    writes the same values with far fewer writes.
    """
    search: dict[str, tuple[Any, dict[str, Any]]] = {}
    batch = repo.client.batch()
    for ref, doc, merge in writes:
        if merge and ref.parent.id == "search":
            _, folded = search.setdefault(ref.path, (ref, {}))
            for field, rows in doc.items():
                folded.setdefault(field, {}).update(rows)
        else:
            batch.set(ref, doc, merge=merge)
    for ref, folded in search.values():
        batch.set(ref, folded, merge=True)
    if writes:
        batch.commit()


def _company_writes(repo: Repository, groups: list[_Group]) -> list[_Unit]:
    """Create missing companies, fill empty names, add new contacts to the bounded sample."""
    wanted: dict[str, tuple[str, list[str]]] = {}
    for group in groups:
        domain = group.contact.company_id
        if not domain:
            continue
        name, ids = wanted.setdefault(domain, (group.company_name, []))
        if not name and group.company_name:
            wanted[domain] = (group.company_name, ids)
        ids.append(group.contact.id)
    stored = repo.get_companies(wanted)
    units = []
    for domain, (name, ids) in wanted.items():
        company = stored.get(domain)
        unit = _Unit()
        if company is None:
            new = Company(id=domain, name=name, contact_ids=ids[:COMPANY_CONTACT_SAMPLE])
            data = dataclasses.asdict(new)
            data.pop("id")
            unit.set(repo.company_ref(domain), data, True)
            repo.search_index.index_company(unit, new)
            units.append(unit)
            continue
        data = {}
        if name and not company.name:
            data["name"] = name
        sample = list(company.contact_ids)
        for cid in ids:
            if len(sample) >= COMPANY_CONTACT_SAMPLE:
                break
            if cid not in sample:
                sample.append(cid)
        if sample != company.contact_ids:
            data["contact_ids"] = sample
        if data:
            data["updated_at"] = utcnow()
            unit.set(repo.company_ref(domain), data, True)
            if "name" in data:
                repo.search_index.index_company(unit, dataclasses.replace(company, name=name), previous=company)
            units.append(unit)
    return units


# --- export ----------------------------------------------------------------------------------

def _escape(value: Any) -> str:
    """A cell a spreadsheet shows as text; the import strips the apostrophe again."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def iter_contacts(repo: Repository) -> Iterator[Contact]:
    """Every live contact of the tenant (aliases left by merges skipped), streamed: for exports only."""
    for snapshot in repo.root.collection("contacts").stream():
        contact = contact_from_doc(snapshot)
        if not contact.merged_into:
            yield contact


def iter_companies(repo: Repository) -> Iterator[Company]:
    for snapshot in repo.root.collection("companies").stream():
        yield company_from_doc(snapshot)


def export_contacts(repo: Repository, out: TextIO) -> int:
    """Write every contact as CSV (a header our import reads back); the number of contacts written.

    Custom fields are columns named by their label (then by key for values no
    definition describes any more); emails and tags are joined with "; ".
    """
    settings = repo.get_settings()
    definitions = [d for d in settings.custom_fields if d.applies_to == "contact"]
    contacts = sorted(iter_contacts(repo), key=lambda c: (c.last_name.casefold(), c.first_name.casefold(),
                                                          c.primary_email))
    defined = {d.key for d in definitions}
    extra = sorted({key for c in contacts for key in c.custom} - defined)
    companies = repo.get_companies({c.company_id for c in contacts if c.company_id})
    writer = csv.writer(out)
    writer.writerow([*CONTACT_EXPORT_COLUMNS, *(d.label for d in definitions), *extra, *CONTACT_EXPORT_TRAILER])
    for contact in contacts:
        company = companies.get(contact.company_id or "")
        row = [contact.id, contact.first_name, contact.middle_name, contact.last_name,
               LIST_SEPARATOR.join(contact.emails), contact.phone, contact.title, contact.company_id or "",
               company.name if company else "", contact.owner or "",
               LIFECYCLE_STAGES.get(contact.lifecycle_stage, contact.lifecycle_stage),
               LIST_SEPARATOR.join(contact.tags)]
        row = [_escape(v) for v in row]
        row[5] = contact.phone  # E.164 starts with "+": a number, never a formula
        row += [_escape(_cell(contact.custom.get(key))) for key in [*(d.key for d in definitions), *extra]]
        row += [contact.source, _when(contact.created_at), _when(contact.last_activity_at)]
        writer.writerow(row)
    return len(contacts)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def export_companies(repo: Repository, out: TextIO) -> int:
    """Write every company as CSV, company custom fields as columns named by their label."""
    settings = repo.get_settings()
    definitions = [d for d in settings.custom_fields if d.applies_to == "company"]
    companies = sorted(iter_companies(repo), key=lambda c: c.id)
    writer = csv.writer(out)
    writer.writerow([*COMPANY_EXPORT_COLUMNS[:2], *(d.label for d in definitions), *COMPANY_EXPORT_COLUMNS[2:]])
    for company in companies:
        writer.writerow([company.id, _escape(company.name),
                         *(_escape(_cell(company.custom.get(d.key))) for d in definitions),
                         _when(company.created_at), _when(company.last_activity_at)])
    return len(companies)
