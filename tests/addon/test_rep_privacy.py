"""Privacy a rep controls (#15 acceptance 3): a thread or a person kept to who and when; undoable; counts."""

from __future__ import annotations

import datetime as dt

import pytest

from models.domain import Activity, Mailbox, Participant, Settings
from models.rep_privacy import thread_key, thread_subject
from models.repository import Touch, activity_id_for
from tests.addon.conftest import T0, card_of, notification, seed_contact, texts

GMAIL = "/addon/gmail/message"


@pytest.fixture
def jane(repo, rep, teammate):
    """Jane, at the tenant's `snippet` level, with the rep's "Pricing" thread and another email of theirs."""
    repo.save_settings(Settings(privacy_level="snippet", admins=[teammate]))
    jane = seed_contact(repo, "jane@acme.com")
    emails = [("Pricing for 2026", "Our best price is 40k", 0), ("RE: Pricing for 2026", "Can you do 35k?", 1),
              ("Kickoff agenda", "Agenda attached", 2)]
    with repo.batch() as writer:
        for subject, snippet, n in emails:
            at = T0 + dt.timedelta(days=n)
            repo.put_activity(writer, Activity(
                id=activity_id_for(f"<jane-{n}@test>"), kind="email", at=at, subject=subject, snippet=snippet,
                direction="outbound", participants=[Participant(rep, role="from"), Participant(jane.primary_email)],
                contact_ids=[jane.id], holders={rep: f"{n:x}"}))
        repo.record_touches(writer, jane.id, [Touch(T0 + dt.timedelta(days=n), "email", rep) for *_, n in emails])
    return jane


def contact_card_as(addon, contact, rep):
    return texts(card_of(addon.action("open_contact", params={"contact_id": contact.id}, rep=rep)))


def test_thread_subjects_ignore_reply_prefixes():
    assert thread_subject("Re: FWD: Pricing   for 2026") == thread_subject("pricing for 2026")
    assert thread_key("RE: Pricing for 2026") == thread_key("Pricing for 2026") != thread_key("Kickoff agenda")
    assert thread_key("Re: ") is None


def test_a_private_thread_shows_a_teammate_only_who_and_when_and_the_rep_everything(addon, repo, rep, teammate,
                                                                                      jane):
    before = contact_card_as(addon, jane, teammate)
    assert "Pricing for 2026" in before and "Our best price is 40k" in before  # the `snippet` level

    response = addon.action("rep_privacy", params={"contact_id": jane.id, "thread": thread_key("Pricing for 2026")})
    assert "only who and when of this thread" in notification(response)

    seen = contact_card_as(addon, jane, teammate)
    assert "Pricing for 2026" not in seen and "40k" not in seen and "35k" not in seen
    assert seen.count("(subject hidden)") == 2 and seen.count(rep) >= 2  # who, and when, stay
    assert "Kickoff agenda" in seen and "Agenda attached" in seen  # the rest of their mail is unchanged
    mine = contact_card_as(addon, jane, rep)
    assert "Pricing for 2026" in mine and "Our best price is 40k" in mine and "Can you do 35k?" in mine

    addon.action("rep_privacy", params={"contact_id": jane.id, "thread": thread_key("Pricing for 2026"), "share": "1"})
    assert "Our best price is 40k" in contact_card_as(addon, jane, teammate)


def test_everything_with_one_person_made_private_and_shared_again(addon, repo, rep, teammate, jane):
    card = card_of(addon.action("open_contact", params={"contact_id": jane.id}))
    assert "Keep my emails with them private" in texts(card)

    addon.action("rep_privacy", params={"contact_id": jane.id})

    seen = contact_card_as(addon, jane, teammate)
    assert "Pricing" not in seen and "Kickoff agenda" not in seen and seen.count("(subject hidden)") == 3
    assert "Share my emails with them again" in contact_card_as(addon, jane, rep)
    assert "Kickoff agenda" in contact_card_as(addon, jane, rep)

    addon.action("rep_privacy", params={"contact_id": jane.id, "share": "1"})
    assert "Kickoff agenda" in contact_card_as(addon, jane, teammate)
    assert repo.get_contact(jane.id).private_reps == []


def test_the_gmail_card_offers_the_thread_and_its_button_makes_it_private(addon, repo, rep, teammate, jane):
    repo.record_message(rep, "beef1", subject="Re: Pricing for 2026",
                        participants=[Participant("jane@acme.com", "Jane Doe", "from"), Participant(rep, "", "to")])
    card = card_of(addon.post(GMAIL, gmail={"messageId": "beef1"}))
    button = next(w["buttonList"]["buttons"][0] for w in card["sections"][0]["widgets"]
                  if "buttonList" in w and w["buttonList"]["buttons"][0]["text"] == "Make this thread private")
    params = {p["key"]: p["value"] for p in button["onClick"]["action"]["parameters"]}

    addon.action("rep_privacy", params=params)

    assert "Pricing for 2026" not in contact_card_as(addon, jane, teammate)
    again = card_of(addon.post(GMAIL, gmail={"messageId": "beef1"}))
    assert "Share this thread again" in texts(again)


def test_marking_twice_is_harmless_and_the_admin_sees_counts_only(addon, repo, rep, teammate, jane):
    repo.save_mailbox(Mailbox(email=rep, state="ok"))
    repo.save_mailbox(Mailbox(email=teammate, state="ok"))
    for _ in range(2):
        addon.action("rep_privacy", params={"contact_id": jane.id, "thread": thread_key("Pricing for 2026")})
        addon.action("rep_privacy", params={"contact_id": jane.id})

    admin_card = texts(card_of(addon.action("admin", rep=teammate)))

    assert f"{rep}" in admin_card and "1 threads · 1 people kept private" in admin_card
    assert "Pricing" not in admin_card  # counts, never what
    assert repo.private_counts([rep, teammate]) == {rep: {"threads": 1, "people": 1},
                                                    teammate: {"threads": 0, "people": 0}}


@pytest.mark.parametrize("params", [{"contact_id": "c00", "thread": "not-a-key"},
                                    {"contact_id": "c00", "thread": "0123456789abcdef", "contact_ids": "../x"}])
def test_forged_thread_parameters_are_a_bad_request(addon, jane, params):
    assert addon.action("rep_privacy", params=params).status_code == 400
