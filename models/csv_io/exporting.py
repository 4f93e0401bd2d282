"""Exporting contacts and companies as CSV that the import reads back (and a spreadsheet shows as text)."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any, TextIO

from models.csv_io.reading import LIST_SEPARATOR, escape
from models.domain import LIFECYCLE_STAGES
from models.repository import Repository

CONTACT_EXPORT_COLUMNS = ("Contact ID", "First Name", "Middle Name", "Last Name", "Emails", "Phone Number",
                          "Job Title", "Company Domain", "Company Name", "Contact owner", "Lifecycle Stage",
                          "Tags")
CONTACT_EXPORT_TRAILER = ("Source", "Created", "Last Activity", "Job Change", "Moved To", "Moved To Email")
COMPANY_EXPORT_COLUMNS = ("Company Domain Name", "Company Name", "Created", "Last Activity")


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def export_contacts(repo: Repository, out: TextIO) -> int:
    """Write every contact as CSV (a header our import reads back); the number of contacts written.

    Custom fields are columns named by their label (then by key for values no
    definition describes any more); emails and tags are joined with "; ". The last
    columns let an admin audit sync's job-change flags (sync.people): "Job Change" is
    "flagged" while the card still offers "Moved to", with the company and address seen there.
    """
    settings = repo.get_settings()
    definitions = [d for d in settings.custom_fields if d.applies_to == "contact"]
    live = (c for c in repo.all_contacts() if not c.merged_into)  # aliases left by merges are not exported
    contacts = sorted(live, key=lambda c: (c.last_name.casefold(), c.first_name.casefold(), c.primary_email))
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
        row = [escape(v) for v in row]
        row[5] = contact.phone  # E.164 starts with "+": a number, never a formula
        row += [escape(_cell(contact.custom.get(key))) for key in [*(d.key for d in definitions), *extra]]
        change = contact.job_change or {}
        row += [contact.source, _when(contact.created_at), _when(contact.last_activity_at),
                "flagged" if change else "", escape(change.get("company_id") or ""), escape(change.get("email") or "")]
        writer.writerow(row)
    return len(contacts)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def export_companies(repo: Repository, out: TextIO) -> int:
    """Write every company as CSV, company custom fields as columns named by their label."""
    settings = repo.get_settings()
    definitions = [d for d in settings.custom_fields if d.applies_to == "company"]
    companies = sorted(repo.all_companies(), key=lambda c: c.id)
    writer = csv.writer(out)
    writer.writerow([*COMPANY_EXPORT_COLUMNS[:2], *(d.label for d in definitions), *COMPANY_EXPORT_COLUMNS[2:]])
    for company in companies:
        writer.writerow([company.id, escape(company.name),
                         *(escape(_cell(company.custom.get(d.key))) for d in definitions),
                         _when(company.created_at), _when(company.last_activity_at)])
    return len(companies)
