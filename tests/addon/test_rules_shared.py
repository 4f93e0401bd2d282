"""The card and the CSV import apply one set of rules (models.rules): what one refuses, the other refuses
with the same words; what one guesses, the other guesses the same."""

from __future__ import annotations

import pytest

from models.csv_io import CREATED, REJECTED, import_contacts
from tests.addon.conftest import card_of, notification, seed_contact, texts
from tests.models.test_csv_import import to_csv


def import_row(repo, header: list[str], row: list[str], **options):
    report = import_contacts(repo, to_csv(header, [row]), **options)
    [outcome] = report.rows
    return outcome


@pytest.mark.parametrize("tag", ["bad!tag", "x" * 51, "semi:colon", "café"])
def test_the_import_refuses_a_tag_the_card_refuses_with_the_same_message(addon, repo, tag):
    jane = seed_contact(repo, "jane@acme.com", tags=["vip"])
    response = addon.action("add_tag", params={"contact_id": jane.id}, inputs={"tag": tag})
    said = notification(response)
    assert said and said in texts(card_of(response)) and repo.get_contact(jane.id).tags == ["vip"]

    outcome = import_row(repo, ["Email", "Tags"], ["pat@globex.com", f"vip; {tag}"])
    assert (outcome.outcome, outcome.detail) == (REJECTED, said)
    assert repo.find_contact_by_email("pat@globex.com") is None


@pytest.mark.parametrize(("field", "column", "value", "locale", "region"), [
    ("first_name", "First Name", "P" * 101, "en", None),
    ("title", "Job Title", "T" * 201, "en", None),
    ("phone", "Phone", "12", "en-GB", "GB"),
    ("phone", "Phone", "020 7946 0000", "en", None),
])
def test_the_import_refuses_a_name_title_or_phone_the_card_refuses_with_the_same_message(
        addon, repo, field, column, value, locale, region):
    jane = seed_contact(repo, "jane@acme.com")
    response = addon.action("edit_fields", params={"contact_id": jane.id}, locale=locale,
                            inputs={"first_name": "Jane", "last_name": "Doe", field: value})
    said = notification(response)
    assert said and repo.get_contact(jane.id).updated_at == jane.updated_at

    outcome = import_row(repo, ["Email", column], ["pat@globex.com", value], region=region)
    assert (outcome.outcome, outcome.detail) == (REJECTED, said)


def test_a_new_company_gets_the_same_guessed_name_from_the_card_and_the_import(addon, repo):
    addon.action("add_contact", params={"email": "pat@acme-labs.com"}, inputs={"first_name": "Pat"})
    outcome = import_row(repo, ["Email"], ["kim@big-data.co.uk"])
    assert outcome.outcome == CREATED
    assert repo.get_company("acme-labs.com").name == "Acme Labs"
    assert repo.get_company("big-data.co.uk").name == "Big Data"
