"""The contact card's depth: duplicates and merge, job changes, the teammate warning, company custom fields."""

from __future__ import annotations

import datetime as dt

import pytest

from models.domain import CustomFieldDefinition, Participant, Settings, utcnow
from models.merge import merge_contacts
from models.repository import contact_id_for
from tests.addon.conftest import card_of, notification, seed_contact, seed_emails, texts

GMAIL = "/addon/gmail/message"


def buttons(card: dict) -> dict[str, dict]:
    """Button text -> its action parameters, over the whole card (decorated-text buttons included)."""
    found = {}
    for section in card["sections"]:
        for widget in section["widgets"]:
            candidates = list(widget.get("buttonList", {}).get("buttons", []))
            if "button" in widget.get("decoratedText", {}):
                candidates.append(widget["decoratedText"]["button"])
            for b in candidates:
                action = b["onClick"]["action"]
                found[b["text"]] = {p["key"]: p["value"] for p in action.get("parameters", [])}
    return found


@pytest.fixture
def twins(repo, rep, teammate):
    repo.save_settings(Settings(custom_fields=[CustomFieldDefinition("region", "Region")]))
    bob = seed_contact(repo, "bob@acme.com", first="Bob", last="Smith", title="CTO", tags=["vip"],
                       custom={"region": "EMEA"}, lifecycle_stage="customer")
    robert = seed_contact(repo, "robert.smith@acme.com", first="Robert", last="Smith", title="VP Engineering",
                          phone="+442079460000", tags=["renewal"], custom={"region": "APAC", "size": 50})
    return bob, robert


def test_the_contact_card_offers_likely_duplicates_with_a_merge_that_shows_the_rule(addon, repo, twins):
    bob, robert = twins
    card = card_of(addon.action("open_contact", params={"contact_id": bob.id}))
    assert "Possible duplicates" in texts(card) and "Similar name at the same company" in texts(card)
    confirm = card_of(addon.action("merge_form", params=buttons(card)["Merge"]))
    shown = texts(confirm)
    assert "Previous values" in shown and "The contact you keep wins every field" in shown
    assert "VP Engineering" in shown and "APAC" in shown  # the values that will be set aside
    assert "Keep Robert Smith instead" in buttons(confirm)
    assert repo.get_contact(robert.id).merged_into is None  # the confirm card writes nothing


def test_merging_300_and_300_activities_through_the_card_keeps_everything(addon, repo, rep, teammate, twins):
    bob, robert = twins
    seed_emails(repo, bob, 300, holder=rep)
    seed_emails(repo, robert, 300, holder=teammate, start=utcnow() - dt.timedelta(days=400))

    response = addon.action("merge_contacts", params={"keep_id": bob.id, "merge_id": robert.id})

    assert notification(response) == "Merged Robert Smith: 300 activities moved"
    kept = repo.get_contact(bob.id)
    assert kept.emails == ["bob@acme.com", "robert.smith@acme.com"]
    assert (kept.title, kept.phone, kept.tags) == ("CTO", "+442079460000", ["vip", "renewal"])
    assert kept.custom == {"region": "EMEA", "size": 50}
    entries = repo.timeline(bob.id, limit=1000).entries
    assert len([e for e in entries if e.kind == "email"]) == 600
    note = next(e for e in entries if e.kind == "note")
    assert "VP Engineering" in repo.get_activity(note.activity_id).body
    assert repo.get_contact(robert.id).id == bob.id  # the alias leads to the kept contact
    assert repo.find_contact_by_email("robert.smith@acme.com").id == bob.id
    assert [h.id for h in repo.search("robert")] == [bob.id]
    assert "Possible duplicates" not in texts(card_of(response))


def test_a_merge_that_crashed_is_finished_by_pressing_merge_again(addon, repo, rep, twins):
    bob, robert = twins
    seed_emails(repo, robert, 300, holder=rep, step=dt.timedelta(days=1))  # ten month buckets

    class Crash(Exception):
        pass

    def crash(step):
        if step == "timeline":
            raise Crash

    with pytest.raises(Crash):
        merge_contacts(repo, bob.id, robert.id, after_step=crash)
    assert repo.get_contact(robert.id, follow_alias=False).merged_into is None

    response = addon.action("merge_contacts", params={"keep_id": bob.id, "merge_id": robert.id})

    assert notification(response).startswith("Merged Robert Smith")
    assert len([e for e in repo.timeline(bob.id, limit=1000).entries if e.kind == "email"]) == 300
    assert repo.get_contact(robert.id, follow_alias=False).merged_into == bob.id
    again = addon.action("merge_contacts", params={"keep_id": bob.id, "merge_id": robert.id})
    assert notification(again) == "Merged Robert Smith: already merged"


def test_a_merge_into_a_different_contact_is_refused_with_the_reason(addon, repo, twins):
    bob, robert = twins
    other = seed_contact(repo, "bobby@acme.com", first="Bobby", last="Smith")
    merge_contacts(repo, bob.id, robert.id)
    response = addon.action("merge_contacts", params={"keep_id": other.id, "merge_id": robert.id})
    assert "already merged" in notification(response)
    assert repo.get_contact(robert.id, follow_alias=False).merged_into == bob.id


def test_moved_to_a_new_company_folds_in_the_new_address_and_keeps_the_history(addon, repo, rep, teammate):
    old = seed_contact(repo, "jane@acme.com", first="Jane", last="Doe", company="acme.com", tags=["champion"],
                       source="sync")
    seed_emails(repo, old, 4, holder=rep)
    new = seed_contact(repo, "jane@globex.com", first="Jane", last="Doe", company="globex.com",
                       company_name="Globex", source="sync")
    seed_emails(repo, new, 2, holder=teammate, start=utcnow() - dt.timedelta(days=1))
    with repo.batch() as writer:  # what sync does when it meets Jane at globex.com
        repo.flag_job_change(writer, old.id, {"company_id": "globex.com", "email": "jane@globex.com",
                                              "seen_at": utcnow()})

    card = card_of(addon.action("open_contact", params={"contact_id": old.id}))
    assert "Likely job change: now seen at globex.com" in texts(card)
    response = addon.action("job_change", params=buttons(card)["Moved to globex.com"])

    assert notification(response) == "Moved to globex.com"
    jane = repo.get_contact(old.id)
    assert (jane.company_id, jane.previous_companies, jane.job_change) == ("globex.com", ["acme.com"], None)
    assert jane.emails == ["jane@globex.com", "jane@acme.com"] and jane.tags == ["champion"]
    assert len([e for e in repo.timeline(old.id).entries if e.kind == "email"]) == 6  # both addresses' mail
    assert repo.find_contact_by_email("jane@globex.com").id == old.id
    assert "Likely job change" not in texts(card_of(response))
    again = addon.action("job_change", params={"contact_id": old.id, "company": "globex.com"})
    assert notification(again) == "This job change was already handled"


def test_not_a_move_clears_the_flag_and_changes_nothing_else(addon, repo):
    jane = seed_contact(repo, "jane@acme.com", job_change={"company_id": "globex.com", "email": "j@globex.com"})
    response = addon.action("dismiss_job_change", params={"contact_id": jane.id})
    assert notification(response) == "Kept at the current company"
    stored = repo.get_contact(jane.id)
    assert (stored.job_change, stored.company_id, stored.previous_companies) == (None, "acme.com", [])


def test_the_gmail_card_warns_when_a_teammate_was_in_touch_in_the_last_14_days(addon, repo, rep, teammate):
    recent = seed_contact(repo, "ann@acme.com", first="Ann")
    seed_emails(repo, recent, 1, holder=teammate, start=utcnow() - dt.timedelta(days=3))
    stale = seed_contact(repo, "bob@acme.com", first="Bob")
    seed_emails(repo, stale, 1, holder=teammate, start=utcnow() - dt.timedelta(days=20))
    mine = seed_contact(repo, "cat@acme.com", first="Cat")
    seed_emails(repo, mine, 1, holder=rep, start=utcnow() - dt.timedelta(days=1))
    repo.record_message(rep, "abc1", subject="Hi", participants=[
        Participant("ann@acme.com", "Ann", "from"), Participant("bob@acme.com", "", "cc"),
        Participant("cat@acme.com", "", "cc"), Participant(rep, "", "to")])

    card = card_of(addon.post(GMAIL, gmail={"messageId": "abc1"}))

    ann, bob, cat = card["sections"]
    assert f"{teammate} (3 days ago)" in texts(ann) and "Heads up" in texts(ann)
    assert "Heads up" not in texts(bob) and "Heads up" not in texts(cat)  # 20 days ago; the rep's own touch
    assert teammate in texts(bob)  # still "also in touch", just no warning


def test_company_custom_fields_are_shown_edited_and_validated(addon, repo):
    repo.save_settings(Settings(custom_fields=[
        CustomFieldDefinition("tier", "Tier", "select", options=["Gold", "Silver"], applies_to="company"),
        CustomFieldDefinition("employees", "Employees", "number", applies_to="company"),
        CustomFieldDefinition("region", "Region", applies_to="contact")]))
    seed_contact(repo, "jane@acme.com")
    card = card_of(addon.action("open_company", params={"domain": "acme.com"}))
    form = card_of(addon.action("company_form", params=buttons(card)["Edit"]))
    assert "Tier" in texts(form) and "Employees" in texts(form) and "Region" not in texts(form)

    response = addon.action("edit_company", params={"domain": "acme.com"},
                            inputs={"name": "Acme Corp", "custom.tier": "gold", "custom.employees": "1,200"})
    assert notification(response) == "Saved"
    company = repo.get_company("acme.com")
    assert (company.name, company.custom) == ("Acme Corp", {"tier": "Gold", "employees": 1200})
    assert "Gold" in texts(card_of(response)) and "1200" in texts(card_of(response))
    assert [h.id for h in repo.search("acme corp")] == ["acme.com"]

    bad = addon.action("edit_company", params={"domain": "acme.com"},
                       inputs={"name": "Acme", "custom.employees": "many"})
    assert "Employees must be a number" in texts(card_of(bad))
    assert repo.get_company("acme.com").name == "Acme Corp"
    assert contact_id_for("jane@acme.com") in repo.get_company("acme.com").contact_ids
