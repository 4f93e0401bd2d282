"""models.rules: the one rule each for tags, names, phones, custom values, owners, company names, job changes."""

from __future__ import annotations

import pytest

from models.domain import Contact, CustomFieldDefinition
from models.rules import (
    Invalid,
    add_tag,
    apply_custom_values,
    apply_job_change,
    check_person,
    check_tag,
    check_teammate,
    company_name_for,
    parse_phone,
    region_of_locale,
)


@pytest.mark.parametrize(("domain", "name"), [
    ("acme-labs.com", "Acme Labs"),  # the card's rule; sync once wrote "Acme-labs"
    ("acme-labs.co.uk", "Acme Labs"),
    ("globex.com", "Globex"),
    ("big_data.io", "Big Data"),
    ("xn--mnchen-3ya.de", "München"),
])
def test_a_company_name_is_guessed_from_the_first_label_split_at_hyphens(domain, name):
    assert company_name_for(domain) == name


@pytest.mark.parametrize(("raw", "says"), [
    ("bad!tag", "bad!tag is not a tag: a tag may hold letters, digits, spaces, - and _ only."),
    ("x" * 51, "A tag has at most 50 characters."),
    ("   ", "Type a tag first."),
])
def test_a_bad_tag_is_refused_with_what_is_wrong(raw, says):
    with pytest.raises(Invalid) as refused:
        check_tag(raw)
    assert str(refused.value) == says


def test_a_tag_is_folded_and_added_once_whatever_its_case():
    tags = ["vip"]
    assert add_tag(tags, "  big   deal ") == "big deal"
    with pytest.raises(Invalid, match="VIP is already a tag"):
        add_tag(tags, "VIP")
    with pytest.raises(Invalid, match="at most 50 tags"):
        add_tag([f"t{n}" for n in range(50)], "one more")
    assert tags == ["vip", "big deal"]


@pytest.mark.parametrize(("raw", "region", "e164"), [
    ("020 7946 0000", "GB", "+442079460000"),
    ("+1 650 253 0000", None, "+16502530000"),
    ("", None, ""),
])
def test_a_phone_is_stored_in_e164(raw, region, e164):
    assert parse_phone(raw, region) == e164


@pytest.mark.parametrize(("raw", "region", "says"), [
    ("12", "GB", "invalid phone number '12'"),
    ("020 7946 0000", None, "invalid phone number '020 7946 0000'; start it with its country code"),
    ("call me", "US", "invalid phone number 'call me'"),
])
def test_a_phone_that_cannot_be_read_is_refused(raw, region, says):
    with pytest.raises(Invalid, match=says):
        parse_phone(raw, region)


@pytest.mark.parametrize(("locale", "region"), [
    ("en-GB", "GB"), ("pt_br", "BR"), ("es-419", None), ("en", None), (None, None)])
def test_the_region_of_a_locale(locale, region):
    assert region_of_locale(locale) == region


def test_names_and_titles_have_bounds():
    check_person("J" * 100, "", "D", "T" * 200)
    with pytest.raises(Invalid, match="Last name is 101 characters; 100 at most."):
        check_person("Jane", "", "D" * 101)
    with pytest.raises(Invalid, match="Title is 201 characters; 200 at most."):
        check_person(title="T" * 201)


def test_custom_values_are_parsed_by_their_definitions_and_every_problem_is_named():
    definitions = [CustomFieldDefinition("seats", "Seats", "number"),
                   CustomFieldDefinition("tier", "Tier", "select", ["Gold", "Silver"])]
    assert apply_custom_values(definitions, {"seats": "1,200", "tier": "gold"}, {"other": 1}) == \
        {"other": 1, "seats": 1200, "tier": "Gold"}
    assert apply_custom_values(definitions, {"seats": ""}, {"seats": 3, "tier": "Gold"}) == {"tier": "Gold"}
    with pytest.raises(Invalid) as refused:
        apply_custom_values(definitions, {"seats": "many", "tier": "Bronze"})
    assert "Seats must be a number" in str(refused.value) and "Tier must be one of Gold, Silver" in str(refused.value)


def test_an_owner_must_be_a_teammate():
    assert check_teammate(" Bob@Example.com ", "example.com") == "bob@example.com"
    assert check_teammate("amy@eu.example.net", "example.com", ["example.net"]) == "amy@eu.example.net"
    with pytest.raises(Invalid, match="must be a teammate at example.com"):
        check_teammate("eve@evil.com", "example.com")
    with pytest.raises(Invalid, match="is not an email address"):
        check_teammate("bob", "example.com")


def test_accepting_a_job_change_keeps_the_old_company_and_makes_the_new_address_primary():
    contact = Contact(id="c1", emails=["jane@acme.com", "jane@globex.com"], company_id="acme.com",
                      previous_companies=["initech.com"],
                      job_change={"company_id": "globex.com", "email": "jane@globex.com"})
    apply_job_change(contact, "globex.com", "jane@globex.com")
    assert (contact.company_id, contact.previous_companies, contact.emails, contact.job_change) == (
        "globex.com", ["initech.com", "acme.com"], ["jane@globex.com", "jane@acme.com"], None)
