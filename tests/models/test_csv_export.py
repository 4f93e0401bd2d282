"""CSV export: every field, custom fields by label, and a file that re-imports cleanly."""

from __future__ import annotations

import csv
import io

from models.csv_io import UNCHANGED, export_companies, export_contacts, import_contacts
from models.domain import Company, Contact, CustomFieldDefinition, Settings
from models.merge import merge_contacts
from models.repository import Repository

FIELDS = [CustomFieldDefinition("seats", "Seats", "number"), CustomFieldDefinition("renewal", "Renewal date", "date"),
          CustomFieldDefinition("tier", "Tier", "select", ["Gold", "Silver"]),
          CustomFieldDefinition("industry", "Industry", "text", applies_to="company")]


def seed(repo: Repository) -> None:
    repo.save_settings(Settings(custom_fields=FIELDS))
    repo.save_company(Company(id="acme.com", name="Acme, Inc.", custom={"industry": "Anvils"}))
    repo.save_company(Company(id="globex.co.uk", name="Globex"))
    repo.create_contact(Contact(id="c1", emails=["jane@acme.com", "jane.doe@gmail.com"], first_name="Jane",
                                middle_name="Q", last_name="Doe", title="VP, Sales", phone="+16502530000",
                                company_id="acme.com", owner="rep@example.com", tags=["vip", "q3 renewal"],
                                lifecycle_stage="sales_qualified",
                                custom={"seats": 1200, "renewal": "2026-05-01", "tier": "Gold"}))
    repo.create_contact(Contact(id="c2", emails=["ops@globex.co.uk"], first_name="=HYPERLINK(\"x\")",
                                last_name="Ñúñez", title="Head of\nOps", company_id="globex.co.uk",
                                custom={"seats": 2.5}))
    repo.create_contact(Contact(id="c3", emails=["gone@acme.com"], first_name="Gone", company_id="acme.com"))
    merge_contacts(repo, "c1", "c3")  # the alias is not exported


def test_contacts_export_with_every_field_and_custom_fields_by_label(repo):
    seed(repo)
    out = io.StringIO()
    assert export_contacts(repo, out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    jane = next(r for r in rows if r["Contact ID"] == "c1")
    assert jane["Emails"] == "jane@acme.com; jane.doe@gmail.com; gone@acme.com"
    assert (jane["Tags"], jane["Lifecycle Stage"], jane["Company Name"], jane["Phone Number"]) == (
        "vip; q3 renewal", "Sales qualified", "Acme, Inc.", "+16502530000")
    assert (jane["Seats"], jane["Renewal date"], jane["Tier"]) == ("1200", "2026-05-01", "Gold")
    formula = next(r for r in rows if r["Contact ID"] == "c2")
    assert formula["First Name"] == "'=HYPERLINK(\"x\")"  # a spreadsheet shows it, never runs it


def test_companies_export(repo):
    seed(repo)
    out = io.StringIO()
    assert export_companies(repo, out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["Company Domain Name"], r["Company Name"], r["Industry"]) for r in rows] == [
        ("acme.com", "Acme, Inc.", "Anvils"), ("globex.co.uk", "Globex", "")]


def test_an_export_reimports_cleanly_elsewhere_and_writes_nothing_at_home(repo, firestore_client):
    seed(repo)
    out = io.StringIO()
    export_contacts(repo, out)
    data = out.getvalue().encode("utf-8")

    home = import_contacts(repo, data)
    assert home.writes == 0 and {r.outcome for r in home.rows} == {UNCHANGED}
    assert home.ignored_columns == [] and home.rejected == [] and home.warnings == []

    elsewhere = Repository(firestore_client, "elsewhere.example")
    elsewhere.save_settings(Settings(custom_fields=FIELDS))
    report = import_contacts(elsewhere, data)
    assert report.rejected == [] and report.count("created") == 2
    editable = ("emails", "first_name", "middle_name", "last_name", "title", "phone", "company_id", "owner", "tags",
                "lifecycle_stage", "custom")
    for original in repo.get_contacts(["c1", "c2"]).values():
        copy = elsewhere.find_contact_by_email(original.primary_email)
        assert {f: getattr(copy, f) for f in editable} == {f: getattr(original, f) for f in editable}
    assert elsewhere.get_company("acme.com").name == "Acme, Inc."
