"""Saved segments through the add-on: each filter, counts on the home page, paging, validation."""

from __future__ import annotations

import datetime as dt

import pytest

from models import segments
from models.domain import CustomFieldDefinition, Settings, utcnow
from tests.addon.conftest import card_of, notification, seed_contact, seed_emails, texts

HOME = "/addon/homepage"


def segment_section(card: dict) -> dict:
    return next(s for s in card["sections"] if s.get("header") == "Segments")


def names_on(card: dict) -> set[str]:
    return {w["decoratedText"]["text"] for w in card["sections"][0]["widgets"]
            if "decoratedText" in w and w["decoratedText"].get("onClick")}


@pytest.fixture
def people(repo, rep, teammate):
    repo.save_settings(Settings(custom_fields=[CustomFieldDefinition("region", "Region", "select",
                                                                     options=["EMEA", "APAC"])]))
    now = utcnow()
    ann = seed_contact(repo, "ann@acme.com", first="Ann", last="Lee", tags=["vip"], lifecycle_stage="customer",
                       owner=rep, custom={"region": "EMEA"})
    bob = seed_contact(repo, "bob@acme.com", first="Bob", last="Ray", tags=["vip"], lifecycle_stage="lead",
                       owner=teammate, custom={"region": "APAC"})
    cat = seed_contact(repo, "cat@globex.com", first="Cat", last="Kim", company="globex.com", company_name="Globex",
                       lifecycle_stage="customer", owner=rep)
    seed_emails(repo, ann, 1, holder=rep, start=now - dt.timedelta(days=2))
    seed_emails(repo, bob, 1, holder=rep, start=now - dt.timedelta(days=60))
    return {"Ann Lee": ann, "Bob Ray": bob, "Cat Kim": cat}  # Cat was never touched


@pytest.mark.parametrize(("inputs", "expected"), [
    ({"tag": "vip"}, {"Ann Lee", "Bob Ray"}),
    ({"stage": "customer"}, {"Ann Lee", "Cat Kim"}),
    ({"owner": "me"}, {"Ann Lee", "Cat Kim"}),
    ({"company": "globex.com"}, {"Cat Kim"}),
    ({"activity_mode": "inactive", "activity_days": "30"}, {"Bob Ray", "Cat Kim"}),  # never touched counts
    ({"activity_mode": "active", "activity_days": "30"}, {"Ann Lee"}),
    ({"custom.region": "APAC"}, {"Bob Ray"}),
    ({"tag": "vip", "stage": "customer", "owner": "me"}, {"Ann Lee"}),
    ({"tag": "vip", "activity_mode": "inactive", "activity_days": "30"}, {"Bob Ray"}),
])
def test_each_filter_finds_exactly_its_contacts(addon, repo, rep, people, inputs, expected):
    response = addon.action("save_segment", inputs={"name": "Mine", **inputs})
    card = card_of(response)
    assert notification(response) == "Saved Mine"
    assert names_on(card) == expected
    assert f"{len(expected)} contact" in texts(card)
    [saved] = segments.list_segments(repo, rep)
    assert saved.count == len(expected)


def test_the_home_page_lists_segments_with_their_cached_counts_and_refreshes_them(addon, repo, rep, people):
    addon.action("save_segment", inputs={"name": "VIPs", "tag": "vip"})
    addon.action("save_segment", inputs={"name": "Customers", "stage": "customer"})
    section = segment_section(card_of(addon.post(HOME)))
    assert "VIPs" in texts(section) and "2 contacts" in texts(section) and "tag vip" in texts(section)
    seed_contact(repo, "dan@acme.com", first="Dan", tags=["vip"])
    assert "3 contacts" not in texts(segment_section(card_of(addon.post(HOME))))  # cached, not recounted
    response = addon.action("refresh_counts")
    assert notification(response) == "Counts refreshed"
    assert "3 contacts" in texts(segment_section(card_of(response)))


def test_segments_are_per_rep(addon, repo, rep, teammate, people):
    addon.action("save_segment", inputs={"name": "VIPs", "tag": "vip"})
    assert "VIPs" not in texts(segment_section(card_of(addon.post(HOME, rep=teammate))))
    [mine] = segments.list_segments(repo, rep)
    response = addon.action("open_segment", params={"segment_id": mine.id}, rep=teammate)
    assert notification(response) == "That segment was deleted"  # another rep's id is simply not theirs


def test_a_segment_pages_through_every_contact_once(addon, repo, rep):
    for n in range(45):
        seed_contact(repo, f"p{n:02d}@acme.com", first=f"P{n:02d}", tags=["bulk"])
    first = card_of(addon.action("save_segment", inputs={"name": "Bulk", "tag": "bulk"}))
    seen, card, pages = set(names_on(first)), first, 1
    while True:
        buttons = [b for w in card["sections"][0]["widgets"] for b in w.get("buttonList", {}).get("buttons", [])
                   if b["text"] == "Next page"]
        if not buttons:
            break
        params = {p["key"]: p["value"] for p in buttons[0]["onClick"]["action"]["parameters"]}
        card = card_of(addon.action("open_segment", params=params))
        assert not names_on(card) & seen
        seen |= names_on(card)
        pages += 1
    assert len(seen) == 45 and pages == 3 and "45 contacts" in texts(card)


def test_merged_away_contacts_are_not_in_segments(addon, repo, people):
    repo.contact_ref(people["Bob Ray"].id).set({"merged_into": people["Ann Lee"].id}, merge=True)
    assert names_on(card_of(addon.action("save_segment", inputs={"name": "VIPs", "tag": "vip"}))) == {"Ann Lee"}


@pytest.mark.parametrize(("inputs", "says"), [
    ({"name": ""}, "Give the segment a name"),
    ({"tag": "bad!"}, "letters, digits"),
    ({"owner": "eve@evil.test"}, "teammate"),
    ({"company": "nowhere.test"}, "No company"),
    ({"activity_mode": "inactive", "activity_days": "soon"}, "whole number"),
    ({"activity_days": "30"}, "No touch"),
    ({"custom.region": "Mars"}, "Region must be one of"),
])
def test_bad_filters_are_refused_and_nothing_is_saved(addon, repo, rep, people, inputs, says):
    response = addon.action("save_segment", inputs={"name": "S", **inputs})
    assert says in texts(card_of(response)) and notification(response)
    assert segments.list_segments(repo, rep) == []


def test_a_segment_is_deleted(addon, repo, rep, people):
    addon.action("save_segment", inputs={"name": "VIPs", "tag": "vip"})
    [saved] = segments.list_segments(repo, rep)
    response = addon.action("delete_segment", params={"segment_id": saved.id})
    assert notification(response) == "Deleted VIPs" and segments.list_segments(repo, rep) == []
    assert card_of(response)["name"] == "home"


def test_the_form_opens_and_a_forged_cursor_is_a_400(addon, repo, rep, people):
    assert "Region" in texts(card_of(addon.action("segment_form")))
    addon.action("save_segment", inputs={"name": "VIPs", "tag": "vip"})
    [saved] = segments.list_segments(repo, rep)
    assert addon.action("open_segment", params={"segment_id": saved.id, "cursor": "../x"}).status_code == 400
