"""models.addresses on messy mail (issue #16): the rules the corpus in tests/sync exercises end to end."""

from __future__ import annotations

import datetime as dt

import pytest

from models.addresses import (
    clean_display_name,
    company_domain,
    is_free_mail,
    is_relay_name,
    is_role_address,
    is_valid_email,
    machine_rule,
    normalize_email,
    parse_address_list,
    person_name,
)
from models.domain import Activity, Participant, TimelineEntry


@pytest.mark.parametrize("address", [
    "messages-noreply@linkedin.com", "no.reply@acme.example", "123+octocat@users.noreply.github.com",
    "d+AORGpRdmHL7@docs.google.com", "reply+AB12@reply.github.com", "receipts+noreply@payco.example",
    "c_1888ab@resource.calendar.google.com", "c_9a8b@group.calendar.google.com",
    "unknownorganizer@calendar.google.com", "4421337@bcc.hubspot.com", "acme@pipedrivemail.com",
    "emailtosalesforce@1a2b.o-1x.na139.le.salesforce.com", "updates@noreply.vendor.example",
])
def test_machines_that_look_like_people_are_never_people(address):
    assert is_role_address(address)


@pytest.mark.parametrize("address", ["martin.noreplica@noreplica.example", "reply.hazy@hazy.example",
                                     "pat.bottomley@bottom-line.example", "jane@google.com"])
def test_people_whose_address_merely_resembles_a_machine_stay_people(address):
    assert not is_role_address(address)


def test_a_tenant_names_its_own_machines_by_address_domain_or_pattern():
    entries = ["*-bot@*", "crm-drop@ledger.example", "autotrack.example"]
    assert machine_rule("release-bot@ci.example", entries) and machine_rule("x@eu.autotrack.example", entries)
    assert machine_rule("CRM-Drop@Ledger.example", entries)
    assert not machine_rule("bottomley@ci.example", entries)


def test_a_relay_is_named_via_outside_parentheses():
    assert is_relay_name("Jane Doe via DocuSign") and is_relay_name('"Liam via Sales Leads"')
    assert not is_relay_name("Sam Reed (via LinkedIn)") and not is_relay_name("Via Lactea")
    assert not is_relay_name("Olivia Brown")


def test_an_encoded_last_comma_first_keeps_both_parts_and_its_neighbour():
    header = "=?utf-8?q?M=C3=BCller=2C_Hans?= <h@stahl.de>, =?utf-8?q?Roe=2C_Rita?= <rita@roe.example>"
    assert parse_address_list(header) == [("Müller, Hans", "h@stahl.de"), ("Roe, Rita", "rita@roe.example")]
    assert person_name("Müller, Hans", "h@stahl.de") == ("Hans", "", "Müller", "header")


@pytest.mark.parametrize(("raw", "name"), [
    ("Tom at Acme", "Tom"), ("Priya from Zenlytics", "Priya"), ("Mike | Quantix", "Mike"),
    ("Daniel Brooks [Northwind]", "Daniel Brooks"), ("Kevin O'Hara | CEO", "Kevin O'Hara"),
    ("Laura Chen - Brightline Capital", "Laura Chen"), ("Sam Reed (via LinkedIn)", "Sam Reed"),
    ("Oscar Wilde, CEO", "Oscar Wilde"), ("Bob Stone, Stone Works", "Bob Stone"), ("Doe, Jane", "Doe, Jane"),
])
def test_decorations_are_not_part_of_a_name(raw, name):
    assert clean_display_name(raw) == name


@pytest.mark.parametrize(("raw", "parts"), [
    ("DUPONT Jean", ("Jean", "", "Dupont")), ("Jean DUPONT", ("Jean", "", "Dupont")),
    ("JANE DOE", ("Jane", "", "Doe")), ("kevin o'hara", ("Kevin", "", "O'Hara")),
    ("MARIA DE LA CRUZ", ("Maria", "", "de la Cruz")), ("JJ Abrams", ("JJ", "", "Abrams")),
    ("ROBERT SMITH III", ("Robert", "", "Smith")), ("McKenzie Lee", ("McKenzie", "", "Lee")),
    ("山田 太郎", ("太郎", "", "山田")), ("王小明", ("王小明", "", "")), ("ИВАНОВА Мария", ("Мария", "", "Иванова")),
])
def test_one_capitalisation_rule_and_surnames_in_capitals(raw, parts):
    assert person_name(raw, "x@example.com")[:3] == parts


def test_a_name_from_the_local_part_says_so():
    assert person_name("", "gl@acme.example") == ("Gl", "", "", "address")
    assert person_name("jane.doe+crm@acme.example", "jane.doe+crm@acme.example") == ("Jane", "", "Doe", "address")


def test_an_idn_domain_has_one_stored_spelling_and_one_company():
    assert normalize_email("Jörg <JOERG@XN--MLLER-BAU-Q9A.DE.>") == normalize_email("joerg@Müller-Bau.de") \
        == "joerg@müller-bau.de"
    assert is_valid_email("joerg@müller-bau.de") and not is_valid_email("joerg@müller bau.de")
    assert company_domain("a@mail.xn--mller-bau-q9a.de") == company_domain("b@müller-bau.de") == "müller-bau.de"


def test_free_mail_is_the_package_the_supplement_and_the_tenants_own():
    assert is_free_mail("gmail.com") and is_free_mail("daum.net") and is_free_mail("tuta.io")
    assert not is_free_mail("familia-post.example")
    assert is_free_mail("mail.familia-post.example", ["familia-post.example"])
    assert company_domain("quinn@foxcorp.onmicrosoft.com") == "foxcorp.onmicrosoft.com"


@pytest.mark.parametrize(("name", "email", "shown"), [
    ("Doe, Jane", "jane@acme.example", "Jane Doe"), ("Tom at Acme", "tom@acme.example", "Tom"),
    ("", "gl@acme.example", "gl@acme.example"), ("'jane@acme.example'", "jane@acme.example", "jane@acme.example"),
])
def test_a_timeline_row_names_the_other_side_as_a_contact_reads_not_as_the_header_wrote_it(name, email, shown):
    activity = Activity(id="a1", kind="email", at=dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc),
                        participants=[Participant("rep@team.example", "Rep", "from"), Participant(email, name, "to")],
                        holders={"rep@team.example": "m1"})
    assert TimelineEntry.of(activity).counterpart == shown
