"""The Firestore repository against the real emulator."""

from __future__ import annotations

import datetime as dt

import pytest

from models.domain import Activity, Company, Contact, CustomFieldDefinition, Mailbox, Participant, Settings
from models.repository import (
    Conflict,
    NotFound,
    Repository,
    Touch,
    activity_id_for,
    contact_id_for,
    decode_cursor,
    settings_from_doc,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def make_contact(email: str, **fields) -> Contact:
    return Contact(id=contact_id_for(email), emails=[email], **fields)


def put_emails(repo: Repository, activities: list[Activity]) -> None:
    """What sync does: the activities, then each contact's counters in one write."""
    with repo.batch() as writer:
        touches: dict[str, list[Touch]] = {}
        for activity in activities:
            repo.put_activity(writer, activity)
            for contact_id in activity.contact_ids:
                touches.setdefault(contact_id, []).append(Touch(activity.at, activity.kind, "rep@example.com"))
        for contact_id, marks in touches.items():
            repo.record_touches(writer, contact_id, marks)


def make_email(n: int, contact_ids: list[str], rep: str = "rep@example.com") -> Activity:
    return Activity(id=activity_id_for(f"<m{n}@x>"), kind="email", at=T0 + dt.timedelta(minutes=n),
                    subject=f"subject {n}", direction="outbound", contact_ids=contact_ids,
                    participants=[Participant(email=rep, role="from")], holders={rep: f"{n:x}"})


def test_a_contact_is_created_read_and_updated(repo):
    contact = repo.create_contact(make_contact("jane@acme.com", first_name="Jane", last_name="Doe",
                                               company_id="acme.com", tags=["vip"]))
    stored = repo.get_contact(contact.id)
    assert (stored.name, stored.emails, stored.tags, stored.company_id) == ("Jane Doe", ["jane@acme.com"], ["vip"],
                                                                             "acme.com")
    stored.title = "CTO"
    stored.lifecycle_stage = "customer"
    repo.save_contact(stored)
    again = repo.get_contact(contact.id)
    assert (again.title, again.lifecycle_stage) == ("CTO", "customer")
    assert again.updated_at >= stored.created_at


def test_a_missing_contact_is_not_found(repo):
    with pytest.raises(NotFound):
        repo.get_contact("nobody")


def test_a_contact_is_found_by_each_of_its_emails_whatever_the_case(repo):
    contact = repo.create_contact(make_contact("jane@acme.com"))
    contact.emails.append("jane.doe@gmail.com")
    repo.save_contact(contact)
    for address in ("jane@acme.com", "JANE@Acme.COM", "Jane.Doe@gmail.com", " <jane.doe@GMAIL.com> "):
        assert repo.find_contact_by_email(address).id == contact.id
    assert repo.find_contact_by_email("someone@acme.com") is None


def test_a_removed_email_no_longer_finds_the_contact(repo):
    contact = repo.create_contact(Contact(id="c1", emails=["a@acme.com", "b@acme.com"]))
    contact.emails = ["a@acme.com"]
    repo.save_contact(contact)
    assert repo.find_contact_by_email("b@acme.com") is None
    assert repo.find_contact_by_email("a@acme.com").id == "c1"


def test_an_address_belongs_to_one_contact_only(repo):
    repo.create_contact(Contact(id="c1", emails=["jane@acme.com"]))
    with pytest.raises(Conflict):
        repo.create_contact(Contact(id="c2", emails=["jane@acme.com"]))
    other = repo.create_contact(Contact(id="c3", emails=["bob@acme.com"]))
    other.emails.append("jane@acme.com")
    with pytest.raises(Conflict):
        repo.save_contact(other)
    assert repo.get_contact("c3").emails == ["bob@acme.com"]


def test_a_company_is_found_by_its_domain(repo):
    repo.save_company(Company(id="acme.co.uk", name="Acme"))
    assert repo.get_company("acme.co.uk").name == "Acme"
    assert repo.get_company("acme.com") is None


def test_a_timeline_pages_newest_first_without_gaps_or_repeats(repo):
    contact = repo.create_contact(make_contact("jane@acme.com"))
    other = repo.create_contact(make_contact("bob@acme.com"))
    emails = [make_email(n, [contact.id]) for n in range(45)]
    # activities at the same instant are still ordered and paged exactly once
    for n in range(3):
        emails.append(make_email(100 + n, [contact.id]))
        emails[-1].at = T0 + dt.timedelta(minutes=44)
    # and a long history spans many monthly buckets
    for n in range(30):
        emails.append(make_email(200 + n, [contact.id]))
        emails[-1].at = T0 - dt.timedelta(days=17 * n + 1)
    emails.append(make_email(999, [other.id]))
    put_emails(repo, emails)

    first = repo.timeline(contact.id)
    assert len(first.entries) == 20 and first.next_cursor
    assert first.entries[0].at == T0 + dt.timedelta(minutes=44)
    assert first.entries[-1].subject == "subject 28"  # 4 rows at minute 44, then 43 down to 28
    seen = list(first.entries)
    cursor = first.next_cursor
    while cursor:
        page = repo.timeline(contact.id, cursor)
        assert len(page.entries) == 20 or page.next_cursor is None
        seen += page.entries
        cursor = page.next_cursor
    assert len({e.activity_id for e in seen}) == len(seen) == 78
    assert [(e.at, e.activity_id) for e in seen] == sorted(((e.at, e.activity_id) for e in seen), reverse=True)
    assert activity_id_for("<m999@x>") not in {e.activity_id for e in seen}


def test_a_timeline_row_carries_what_the_card_shows_and_a_deletion_removes_it(repo):
    contact = repo.create_contact(make_contact("jane@acme.com"))
    email = make_email(1, [contact.id])
    email.participants.append(Participant(email="jane@acme.com", name="Jane Doe", role="to"))
    email.snippet = "Let us meet on Tuesday"
    put_emails(repo, [email])
    (row,) = repo.timeline(contact.id).entries
    assert (row.subject, row.snippet, row.holders, row.counterpart) == (
        "subject 1", "Let us meet on Tuesday", ["rep@example.com"], "Jane Doe")
    with repo.batch() as writer:
        repo.remove_activity(writer, email)
    assert repo.timeline(contact.id).entries == []
    with pytest.raises(NotFound):
        repo.get_activity(email.id)


def test_a_timeline_since_returns_every_row_in_the_window(repo):
    contact = repo.create_contact(make_contact("jane@acme.com"))
    put_emails(repo, [make_email(n * 24 * 60, [contact.id]) for n in range(120)])  # one a day
    window = repo.timeline(contact.id, since=T0 + dt.timedelta(days=30))
    assert len(window.entries) == 90 and window.next_cursor is None


def test_a_forged_cursor_is_refused(repo):
    with pytest.raises(ValueError, match="invalid timeline cursor"):
        decode_cursor("not-a-cursor")


def test_touch_counters_only_move_forward(repo):
    contact = repo.create_contact(make_contact("jane@acme.com"))
    later, earlier = T0 + dt.timedelta(days=2), T0
    with repo.batch() as writer:
        repo.record_touches(writer, contact.id, [Touch(later, "email", "rep@example.com")])
    with repo.batch() as writer:
        repo.record_touches(writer, contact.id, [Touch(earlier, "email", "rep@example.com")])
    with repo.batch() as writer:
        repo.record_touches(writer, contact.id, [Touch(earlier, "meeting", "other.rep@example.com"),
                                                 Touch(earlier, "note")])
    stored = repo.get_contact(contact.id)
    assert stored.last_activity_at == later and stored.last_email_at == later
    assert stored.last_meeting_at == earlier
    assert stored.touches == {"rep@example.com": later, "other.rep@example.com": earlier}


def test_an_edit_never_overwrites_sync_counters(repo):
    contact = repo.create_contact(make_contact("jane@acme.com"))
    with repo.batch() as writer:
        repo.record_touches(writer, contact.id, [Touch(T0, "email", "rep@example.com")])
    contact.title = "VP Sales"  # this copy was read before the touch
    repo.save_contact(contact)
    assert repo.get_contact(contact.id).touches == {"rep@example.com": T0}


def test_settings_and_mailboxes_round_trip(repo):
    assert repo.get_settings() == Settings()
    repo.save_settings(Settings(privacy_level="metadata", exclusions=["rival.com"]))
    assert repo.get_settings().exclusions == ["rival.com"]
    repo.save_mailbox(Mailbox(email="rep@example.com", history_id="1234", state="ok"))
    assert repo.get_mailbox("rep@example.com").history_id == "1234"
    assert [m.email for m in repo.list_mailboxes()] == ["rep@example.com"]


def test_two_tenants_with_the_same_email_never_see_each_other(firestore_client):
    ours, theirs = Repository(firestore_client, "example.com"), Repository(firestore_client, "rival.com")
    mine = ours.create_contact(make_contact("jane@acme.com", first_name="Jane"))
    put_emails(ours, [make_email(1, [mine.id])])
    theirs.create_contact(make_contact("jane@acme.com", first_name="Janet"))  # same id, other tenant

    assert ours.find_contact_by_email("jane@acme.com").first_name == "Jane"
    assert theirs.find_contact_by_email("jane@acme.com").first_name == "Janet"
    assert theirs.timeline(mine.id).entries == []
    with pytest.raises(NotFound):
        theirs.get_activity(activity_id_for("<m1@x>"))
    ours.save_settings(Settings(privacy_level="snippet"))
    assert theirs.get_settings().privacy_level == "subject"


def test_a_batch_commits_in_chunks_of_at_most_500(repo):
    with repo.batch() as writer:
        for n in range(1203):
            repo.put_activity(writer, make_email(n, []))
    assert writer.writes == 1203
    wanted = [activity_id_for(f"<m{n}@x>") for n in (0, 600, 1202)]
    assert sorted(repo.get_activities(wanted)) == sorted(wanted)


def test_creating_a_contact_never_overwrites_one_with_the_same_id(repo):
    repo.create_contact(Contact(id="c1", emails=["jane@acme.com"], title="CTO"))
    with pytest.raises(Conflict, match="already exists"):
        repo.create_contact(Contact(id="c1", emails=["other@acme.com"]))
    assert repo.get_contact("c1").title == "CTO"
    assert repo.find_contact_by_email("other@acme.com") is None


def test_a_synced_message_is_found_by_its_gmail_id_with_few_writes(repo):
    contact = repo.create_contact(make_contact("jane@acme.com"))
    emails = [make_email(n, [contact.id]) for n in range(300)]
    for email in emails:
        email.participants.append(Participant(email="jane@acme.com", name="Jane", role="to"))
    put_emails(repo, emails)
    with repo.batch() as writer:
        repo.record_synced_messages(writer, "rep@example.com", {f"{n:x}": e.id for n, e in enumerate(emails)})
    assert writer.writes <= 16  # one per bucket, not one per message
    participants, subject = repo.get_message("rep@example.com", f"{42:x}")
    assert subject == "subject 42"
    assert [p.email for p in participants] == ["rep@example.com", "jane@acme.com"]
    assert repo.get_message("rep@example.com", "ffffff") is None
    assert repo.get_message("other@example.com", f"{42:x}") is None


def test_settings_are_read_from_the_tenant_document_whatever_it_lacks():
    assert settings_from_doc(None) == Settings()
    assert settings_from_doc({"other": 1}) == Settings()
    settings = settings_from_doc({
        "privacy_level": "metadata", "retired_field": True,
        "custom_fields": [{"key": "seats", "label": "Seats", "type": "number"}]})
    assert settings.privacy_level == "metadata"
    assert settings.custom_fields == [CustomFieldDefinition("seats", "Seats", "number")]
