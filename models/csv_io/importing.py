"""Importing a spreadsheet of contacts (SPEC §8: teams leaving spreadsheets).

How a file is read, which column fills what and how a row is validated:
`reading`, `columns` and `rows` beside this module.

Dedupe and the merge rule. Rows are matched on email, case-insensitively,
against the address index (every existing contact's addresses) and against
earlier rows of the same file. A row that matches folds into the earlier row
or the existing contact by `models.merge.absorb`: empty fields are filled,
emails and tags are unioned, a non-empty value is never overwritten (the
ignored value is reported as a warning). A row whose addresses belong to two
different existing contacts is rejected. The row that first names a contact
counts as imported (created, updated or unchanged); later rows for it count as
merged. So imported + merged + rejected + blank = rows.

Writes. This module plans in domain terms (each contact as it should be, with
the stored one it updates; each company likewise) and
`Repository.write_import` writes only the differences, so importing the same
file twice writes nothing the second time; how the documents and index rows
are built and batched is the repository's (a contact's writes always share
one batch, so a crash leaves whole contacts and a rerun finishes the rest).
New contacts get sync's deterministic id for their primary address, so an
import and a sync that meet the same person make one contact. A new company
takes the file's company name, else the name a card or sync would guess
(`models.rules.company_name_for`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from models import rules
from models.addresses import NAME_FROM_ADDRESS, is_valid_email, name_parts, normalize_email
from models.csv_io.columns import plan_columns
from models.csv_io.reading import CsvImportError, decode, read_table
from models.csv_io.report import BLANK, CREATED, MERGED, REJECTED, UNCHANGED, UPDATED, ImportReport, RowOutcome
from models.csv_io.rows import ImportOptions, ParsedRow, parse_row
from models.domain import DEFAULT_LIFECYCLE_STAGE, Company, Contact
from models.merge import absorb
from models.repository import COMPANY_CONTACT_SAMPLE, Repository, contact_id_for, new_id

log = logging.getLogger(__name__)


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
        typed, region = region, rules.phone_region(region)
        if region is None:
            raise CsvImportError(f"--region must be a two-letter country code such as US or GB, "
                                 f"got {typed.strip().upper()!r}")
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
    options = ImportOptions(owner=owner, region=region, free_mail=tuple(settings.free_mail_domains))

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
            group.contact.name_source = NAME_FROM_ADDRESS  # a guess: the person's own display name improves it
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


def _write(repo: Repository, groups: list[_Group], outcomes: dict[int, RowOutcome], report: ImportReport,
           dry_run: bool) -> None:
    """Hand the planned contacts and companies to the repository, which writes what differs; fill the report."""
    written, companies, report.writes = repo.write_import(
        [(group.contact, group.stored) for group in groups], _plan_companies(repo, groups), dry_run=dry_run)
    for group in groups:
        outcome = outcomes[group.line]
        outcome.contact_id = group.contact.id
        if group.stored is not None and group.contact.id in written:
            outcome.outcome = UPDATED
    report.contacts_written, report.companies_written = len(written), len(companies)


def _plan_companies(repo: Repository, groups: list[_Group]) -> list[tuple[Company, Company | None]]:
    """Each company the import touches as it should be, with the stored one: missing ones created (named by
    the file, else by `rules.company_name_for`), empty names filled, new contacts added to the bounded sample."""
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
    planned = []
    for domain, (name, ids) in wanted.items():
        company = stored.get(domain)
        if company is None:
            planned.append((Company(id=domain, name=name or rules.company_name_for(domain),
                                    contact_ids=ids[:COMPANY_CONTACT_SAMPLE]), None))
            continue
        sample = list(company.contact_ids)
        for cid in ids:
            if len(sample) >= COMPANY_CONTACT_SAMPLE:
                break
            if cid not in sample:
                sample.append(cid)
        planned.append((dataclasses.replace(company, name=company.name or name, contact_ids=sample), company))
    return planned
