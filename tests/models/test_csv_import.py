"""CSV import against the real emulator: mapping, validation, dedupe, idempotence and the report."""

from __future__ import annotations

import codecs
import csv
import io
import random

import pytest

from models.csv_io import (
    BLANK,
    CREATED,
    MERGED,
    REJECTED,
    UNCHANGED,
    UPDATED,
    CsvImportError,
    import_contacts,
)
from models.domain import Company, Contact, CustomFieldDefinition, Settings
from models.repository import contact_id_for

HUBSPOT_HEADER = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Job Title", "Company Name",
                  "Website URL", "Lifecycle Stage", "Contact owner", "Create Date"]
GOOGLE_HEADER = ["First Name", "Middle Name", "Last Name", "Nickname", "E-mail 1 - Label", "E-mail 1 - Value",
                 "E-mail 2 - Label", "E-mail 2 - Value", "Phone 1 - Label", "Phone 1 - Value", "Organization Name",
                 "Organization Title", "Labels"]
OLD_GOOGLE_HEADER = ["Name", "Given Name", "Additional Name", "Family Name", "Group Membership", "E-mail 1 - Type",
                     "E-mail 1 - Value", "Phone 1 - Type", "Phone 1 - Value", "Organization 1 - Name",
                     "Organization 1 - Title"]


def to_csv(header: list[str], rows: list[list[str]], delimiter: str = ",", bom: bool = False,
           encoding: str = "utf-8") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue().encode(encoding)
    return codecs.BOM_UTF8 + data if bom else data


def outcomes(report) -> dict[int, str]:
    return {row.line: row.outcome for row in report.rows}


def test_a_hubspot_export_is_imported_with_every_field(repo):
    data = to_csv(HUBSPOT_HEADER, [
        ["101", "Jane", "Doe", "Jane@Acme.com", "+1 650-253-0000", "CTO", "Acme Inc", "https://www.acme.com/",
         "Marketing Qualified Lead", "rep@example.com", "2024-01-01"],
        ["102", "Bob", "Smith", "bob@globex.co.uk", "+44 20 7946 0018", "", "Globex", "", "salesqualifiedlead", "",
         ""],
    ])
    report = import_contacts(repo, data)
    assert outcomes(report) == {2: CREATED, 3: CREATED}
    jane = repo.find_contact_by_email("jane@acme.com")
    assert (jane.id, jane.first_name, jane.last_name, jane.title, jane.phone, jane.company_id, jane.owner,
            jane.lifecycle_stage, jane.source) == (contact_id_for("jane@acme.com"), "Jane", "Doe", "CTO",
                                                   "+16502530000", "acme.com", "rep@example.com",
                                                   "marketing_qualified", "import")
    bob = repo.find_contact_by_email("bob@globex.co.uk")
    assert (bob.phone, bob.company_id, bob.lifecycle_stage) == ("+442079460018", "globex.co.uk", "sales_qualified")
    assert repo.get_company("acme.com").name == "Acme Inc"
    assert repo.get_company("acme.com").contact_ids == [jane.id]
    assert report.ignored_columns == []  # Record ID and Create Date are known, read-only
    assert [(hit.kind, hit.id) for hit in repo.search("jane")] == [("contact", jane.id)]
    assert {(hit.kind, hit.id) for hit in repo.search("globex")} == {("company", "globex.co.uk"),
                                                                    ("contact", bob.id)}
    assert repo.contact_ids_by_name(["jane doe"]) == {"jane doe": [jane.id]}  # sync's job-change index
    assert [c.id for c in repo.contacts_owned_by("rep@example.com", 20)] == [jane.id]  # the home page's list


def test_a_google_contacts_export_is_imported_with_both_emails_and_labels(repo):
    data = to_csv(GOOGLE_HEADER, [
        ["Ana", "", "Lima", "", "* Work", "ana@initech.com", "Home", "ana.lima@gmail.com", "Mobile",
         "+55 11 91234-5678", "Initech", "Buyer", "* myContacts ::: Customers ::: Brazil"],
    ])
    old = to_csv(OLD_GOOGLE_HEADER, [
        ["Zoe Park", "Zoe", "", "Park", "* starred ::: Partners", "Work", "zoe@hooli.com", "", "", "Hooli", "CEO"],
    ])
    import_contacts(repo, data)
    import_contacts(repo, old)
    ana = repo.find_contact_by_email("ana.lima@gmail.com")
    assert (ana.emails, ana.tags, ana.title, ana.company_id) == (["ana@initech.com", "ana.lima@gmail.com"],
                                                                 ["Customers", "Brazil"], "Buyer", "initech.com")
    assert ana.phone == "+5511912345678"
    zoe = repo.find_contact_by_email("zoe@hooli.com")
    assert (zoe.first_name, zoe.last_name, zoe.title, zoe.tags) == ("Zoe", "Park", "CEO", ["Partners"])


def test_rows_are_rejected_with_their_line_and_every_reason_and_the_rest_imported(repo):
    repo.save_settings(Settings(custom_fields=[
        CustomFieldDefinition("seats", "Seats", "number"),
        CustomFieldDefinition("renewal", "Renewal date", "date"),
        CustomFieldDefinition("tier", "Tier", "select", ["Gold", "Silver"]),
    ]))
    header = ["Email", "First Name", "Lifecycle Stage", "Seats", "renewal", "TIER", "Phone", "Favourite colour"]
    data = to_csv(header, [
        ["ok@acme.com", "Ok", "customer", "1,200", "2026-05-01", "gold", "+1 650 253 0000", "blue"],
        ["not-an-email", "Bad", "", "", "", "", "", ""],
        ["", "Nobody", "", "", "", "", "", ""],
        ["stage@acme.com", "S", "Hot prospect", "", "", "", "", ""],
        ["types@acme.com", "T", "", "many", "05/01/2026", "Bronze", "", ""],
        ["phone@acme.com", "P", "", "", "", "", "12", ""],
        ["", "", "", "", "", "", "", ""],
    ])
    report = import_contacts(repo, data)
    assert outcomes(report) == {2: CREATED, 3: REJECTED, 4: REJECTED, 5: REJECTED, 6: REJECTED, 7: REJECTED,
                                8: BLANK}
    reasons = {row.line: row.detail for row in report.rejected}
    assert "invalid email 'not-an-email'" in reasons[3]
    assert reasons[4] == "no email address"
    assert "unknown lifecycle stage 'Hot prospect'" in reasons[5]
    assert "Seats must be a number" in reasons[6] and "Renewal date must be a date" in reasons[6] \
        and "Tier must be one of Gold, Silver" in reasons[6]
    assert "invalid phone number '12'" in reasons[7]
    assert report.ignored_columns == ["Favourite colour"]
    ok = repo.find_contact_by_email("ok@acme.com")
    assert ok.custom == {"seats": 1200, "renewal": "2026-05-01", "tier": "Gold"}
    for email in ("stage@acme.com", "types@acme.com", "phone@acme.com"):
        assert repo.find_contact_by_email(email) is None  # nothing half-written for a rejected row


def test_rows_with_one_address_merge_by_the_rule_and_importing_again_writes_nothing(repo):
    data = to_csv(["Email", "First Name", "Last Name", "Job Title", "Tags", "Emails"], [
        ["jane@acme.com", "Jane", "", "CTO", "vip", ""],
        ["JANE@ACME.COM", "Janet", "Doe", "CEO", "renewal; VIP", "jane.doe@gmail.com"],
        ["jane.doe@gmail.com", "", "", "", "board", ""],
    ])
    report = import_contacts(repo, data)
    assert outcomes(report) == {2: CREATED, 3: MERGED, 4: MERGED}
    jane = repo.find_contact_by_email("jane.doe@gmail.com")
    assert (jane.first_name, jane.last_name, jane.title) == ("Jane", "Doe", "CTO")  # filled, never overwritten
    assert jane.emails == ["jane@acme.com", "jane.doe@gmail.com"]
    assert jane.tags == ["vip", "renewal", "board"]
    assert {w.detail for w in report.warnings} == {"first_name: kept 'Jane', ignored 'Janet'",
                                                   "title: kept 'CTO', ignored 'CEO'"}
    again = import_contacts(repo, data)
    assert outcomes(again) == {2: UNCHANGED, 3: MERGED, 4: MERGED}
    assert (again.writes, again.contacts_written, again.companies_written) == (0, 0, 0)


def test_a_row_fills_an_existing_contact_without_overwriting_it(repo):
    repo.create_contact(Contact(id="c1", emails=["jane@acme.com"], first_name="Jane", title="CTO",
                                company_id="acme.com", tags=["vip"]))
    repo.save_company(Company(id="acme.com", name="Acme", contact_ids=["c1"]))
    data = to_csv(["Email", "First Name", "Last Name", "Job Title", "Tags", "Email 2"], [
        ["jane@acme.com", "Janet", "Doe", "CEO", "new-tag", ""]])
    report = import_contacts(repo, data, mapping={"Email 2": "emails"}, owner="rep@example.com")
    assert outcomes(report) == {2: UPDATED}
    jane = repo.get_contact("c1")
    assert (jane.first_name, jane.last_name, jane.title, jane.owner, jane.tags) == (
        "Jane", "Doe", "CTO", "rep@example.com", ["vip", "new-tag"])
    assert (report.contacts_written, report.companies_written) == (1, 0)  # the company already lists it
    assert [hit.id for hit in repo.search("doe")] == ["c1"]  # the filled name is searchable


def test_addresses_of_two_different_contacts_in_one_row_are_rejected(repo):
    repo.create_contact(Contact(id="c1", emails=["a@acme.com"]))
    repo.create_contact(Contact(id="c2", emails=["b@acme.com"]))
    report = import_contacts(repo, to_csv(["Email", "Additional email addresses"], [["a@acme.com", "b@acme.com"]]))
    assert report.rejected[0].line == 2 and "different contacts" in report.rejected[0].detail
    assert repo.get_contact("c1").emails == ["a@acme.com"]


def test_a_dry_run_reports_everything_and_writes_nothing(repo):
    report = import_contacts(repo, to_csv(["Email"], [["a@acme.com"], ["b@acme.com"]]), dry_run=True)
    assert outcomes(report) == {2: CREATED, 3: CREATED} and report.writes > 0
    assert repo.find_contact_by_email("a@acme.com") is None
    assert "[dry run: nothing was written]" in report.lines()[1]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"Name,Phone\nJane,123\n", "no column holds email addresses"),
])
def test_a_file_that_cannot_be_imported_says_why_and_writes_nothing(repo, data, message):
    with pytest.raises(CsvImportError, match=message):
        import_contacts(repo, data)


def test_a_bad_mapping_is_refused_before_anything_is_written(repo):
    data = to_csv(["Email", "Colour"], [["a@acme.com", "blue"]])
    with pytest.raises(CsvImportError, match="unknown field 'colour'"):
        import_contacts(repo, data, mapping={"Colour": "colour"})
    with pytest.raises(CsvImportError, match="does not have: 'Color'"):
        import_contacts(repo, data, mapping={"Color": "title"})
    with pytest.raises(CsvImportError, match="--owner must be an email"):
        import_contacts(repo, data, owner="Sam Smith")
    assert repo.find_contact_by_email("a@acme.com") is None


def test_windows_1252_semicolons_quotes_and_national_numbers_are_read(repo):
    text = 'Email;Name;Job Title;Phone\r\n"jose@acme.es";"José Núñez";"Director; Ventas";"020 7946 0018"\r\n'
    report = import_contacts(repo, text.encode("cp1252"), region="gb")
    assert "not UTF-8" in report.notes[0] and "semicolon" in report.notes[1]
    jose = repo.find_contact_by_email("jose@acme.es")
    assert (jose.first_name, jose.last_name, jose.title, jose.phone) == ("José", "Núñez", "Director; Ventas",
                                                                         "+442079460018")


def messy_rows(seed: int = 7) -> tuple[list[str], list[list[str]], dict[str, int]]:
    """An 800-row export from a team's spreadsheet, and how many rows of each outcome it must give.

    Duplicates in another case, bad and missing emails, missing names, blank
    lines, quoted separators and line breaks, and columns nobody maps.
    """
    rng = random.Random(seed)
    header = [*HUBSPOT_HEADER, "Favourite colour", "Internal notes"]
    rows: list[list[str]] = []
    expected = {CREATED: 0, MERGED: 0, REJECTED: 0, BLANK: 0}
    seen: list[str] = []
    while len(rows) < 800:
        roll = rng.random()
        if roll < 0.02:
            rows.append([""] * len(header))
            expected[BLANK] += 1
            continue
        if roll < 0.07:
            email = rng.choice(["jane@", "no at sign", "a@b", "x@@acme.com", "bob@acme..com"])
            expected[REJECTED] += 1
        elif roll < 0.09:
            email = ""
            expected[REJECTED] += 1
        elif roll < 0.27 and seen:
            email = rng.choice(seen)
            email = rng.choice([email.upper(), email.title(), " " + email + " "])
            expected[MERGED] += 1
        else:
            email = f"person{len(seen)}@company{len(seen) % 40}.com"
            seen.append(email)
            expected[CREATED] += 1
        n = len(rows)
        named = rng.random() > 0.1
        rows.append([str(n), f"First{n}" if named else "", f"Last{n}" if named else "", email,
                     "", rng.choice(["CTO", "VP, Sales", "Head of\nOps", ""]), f"Company {n % 40}", "",
                     rng.choice(["lead", "Customer", "Marketing Qualified Lead", ""]), "", "2024-01-01",
                     rng.choice(["blue", "red"]), "said \"hi\"; call back"])
    return header, rows, expected


def test_an_800_row_messy_file_is_accounted_for_row_by_row_and_a_reimport_writes_nothing(repo, firestore_client):
    header, rows, expected = messy_rows()
    data = to_csv(header, rows, bom=True)
    report = import_contacts(repo, data)
    assert len(report.rows) == 800
    assert {k: report.count(k) for k in expected} == expected
    assert report.imported + report.count(MERGED) + report.count(REJECTED) + report.count(BLANK) == 800
    assert all(row.line > 1 and row.detail for row in report.rejected)
    assert report.ignored_columns == ["Favourite colour", "Internal notes"]
    assert report.contacts_written == expected[CREATED]
    assert report.notes == []  # the BOM is UTF-8's own
    # every row's line is the line it starts on, multi-line cells included
    physical = data.decode("utf-8-sig").splitlines()
    for row in report.rows:
        if row.outcome == CREATED:
            assert row.email.strip() in physical[row.line - 1].lower()

    again = import_contacts(repo, data)
    assert again.writes == 0 and again.count(CREATED) == 0
    assert again.count(UNCHANGED) == expected[CREATED]

    # the same file as a semicolon-separated spreadsheet, into another tenant, gives the same result
    from models.repository import Repository
    other = Repository(firestore_client, "other.example")
    variant = import_contacts(other, to_csv(header, rows, delimiter=";"))
    assert [(r.line, r.outcome) for r in variant.rows] == [(r.line, r.outcome) for r in report.rows]
    assert other.find_contact_by_email("person0@company0.com").name == repo.find_contact_by_email(
        "PERSON0@company0.com").name
