"""Merging two contacts loses nothing, leaves an alias, and survives a crash at any step."""

from __future__ import annotations

import datetime as dt

import pytest

from models.domain import Activity, Company, Contact, Participant
from models.merge import (
    SAME_ADDRESS,
    SIMILAR_NAME,
    absorb,
    find_duplicates,
    merge_contacts,
    previous_values_note_id,
    scan_address_conflicts,
)
from models.repository import Conflict, NotFound, Repository, Touch, activity_id_for, contact_id_for

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
KEEP, MERGE = "c-keep", "c-merge"
REPS = ("ann@example.com", "ben@example.com")


class Crash(RuntimeError):
    """What a test raises from a merge hook to stop it dead between two steps."""


def seed_pair(repo: Repository, per_contact: int = 300, shared: int = 40) -> set[str]:
    """Two records of Bob Smith at acme.com with `per_contact` activities each, `shared` of them on both.

    Returns every activity id; they span several monthly buckets and include notes.
    """
    repo.save_company(Company(id="acme.com", name="Acme"))
    repo.create_contact(Contact(id=KEEP, emails=["robert.smith@acme.com"], first_name="Robert", last_name="Smith",
                                title="CTO", company_id="acme.com", tags=["vip"], owner="ann@example.com",
                                custom={"tier": "Gold"}, created_at=T0 - dt.timedelta(days=30)))
    repo.create_contact(Contact(id=MERGE, emails=["bob@acme.com", "bob.smith@gmail.com"], first_name="Bob",
                                last_name="Smith", title="VP Engineering", phone="+16502530000",
                                company_id="acme.com", tags=["VIP", "renewal"], lifecycle_stage="customer",
                                owner="ben@example.com", custom={"tier": "Silver", "seats": 40},
                                created_at=T0 - dt.timedelta(days=90)))
    activities: list[Activity] = []
    for n in range(2 * per_contact - shared):
        if n < per_contact - shared:
            owners = [KEEP]
        elif n < per_contact:
            owners = [KEEP, MERGE]
        else:
            owners = [MERGE]
        kind = "note" if n % 25 == 0 else ("meeting" if n % 7 == 0 else "email")
        rep = REPS[n % 2]
        activities.append(Activity(
            id=activity_id_for(f"<m{n}@x>"), kind=kind, at=T0 + dt.timedelta(hours=11 * n), subject=f"subject {n}",
            direction="outbound", contact_ids=owners, company_ids=["acme.com"],
            participants=[Participant(email=rep, role="from")], holders={} if kind == "note" else {rep: f"{n:x}"},
            author=rep if kind == "note" else None, body="a note" if kind == "note" else ""))
    with repo.batch() as writer:
        touches: dict[str, list[Touch]] = {}
        for activity in activities:
            repo.put_activity(writer, activity)
            for cid in activity.contact_ids:
                rep = None if activity.kind == "note" else next(iter(activity.holders))
                touches.setdefault(cid, []).append(Touch(activity.at, activity.kind, rep))
        for cid, marks in touches.items():
            repo.record_touches(writer, cid, marks)
    repo.save_company(Company(id="acme.com", name="Acme", contact_ids=[KEEP, MERGE]))
    return {a.id for a in activities}


def whole_timeline(repo: Repository, contact_id: str) -> list:
    page = repo.timeline(contact_id)
    rows = list(page.entries)
    while page.next_cursor:
        page = repo.timeline(contact_id, page.next_cursor)
        rows += page.entries
    return rows


def state(repo: Repository, activity_ids: set[str]) -> dict:
    """Everything a merge touches, minus the wall-clock times it stamps."""
    kept = repo.contact_ref(KEEP).get().to_dict()
    kept.pop("updated_at")
    alias = repo.contact_ref(MERGE).get().to_dict()
    note_id = previous_values_note_id(KEEP, MERGE)
    rows = {(e.activity_id, e.subject) for e in whole_timeline(repo, KEEP)}
    note = repo.get_activity(note_id)
    return {
        "kept": {k: v for k, v in kept.items() if k != "timeline_months"},
        "alias": (alias["merged_into"], alias["emails"], alias["timeline_months"]),
        "rows": rows,
        "activities": {a.id: a.contact_ids for a in repo.get_activities(activity_ids).values()},
        "index": repo.contact_ids_by_email(["robert.smith@acme.com", "bob@acme.com", "bob.smith@gmail.com"]),
        "company": repo.get_company("acme.com").contact_ids,
        "note": note.body,
        "old_buckets": [s.id for s in repo.contact_ref(MERGE).collection("timeline").stream()],
    }


def test_two_contacts_with_300_activities_each_merge_into_one_that_loses_nothing(repo):
    activity_ids = seed_pair(repo)
    before_keep, before_merge = repo.get_contact(KEEP), repo.get_contact(MERGE)

    result = merge_contacts(repo, KEEP, MERGE)

    kept = repo.get_contact(KEEP)
    assert kept.emails == ["robert.smith@acme.com", "bob@acme.com", "bob.smith@gmail.com"]
    assert kept.tags == ["vip", "renewal"]  # "VIP" is the same tag
    assert (kept.first_name, kept.title, kept.owner, kept.lifecycle_stage) == ("Robert", "CTO", "ann@example.com",
                                                                              "lead")
    assert kept.phone == "+16502530000"  # empty on the kept contact: filled
    assert kept.custom == {"tier": "Gold", "seats": 40}
    assert kept.created_at == before_merge.created_at  # the older of the two
    assert kept.last_activity_at == max(before_keep.last_activity_at, before_merge.last_activity_at)
    assert kept.touches == {rep: max(before_keep.touches[rep], before_merge.touches[rep]) for rep in REPS}

    # every activity, once, on the kept timeline; and each points at the kept contact only
    rows = whole_timeline(repo, KEEP)
    note_id = previous_values_note_id(KEEP, MERGE)
    assert sorted(e.activity_id for e in rows) == sorted(activity_ids | {note_id})
    assert result.activities_moved == 300
    assert all(a.contact_ids == [KEEP] for a in repo.get_activities(activity_ids).values())

    # the losing values are kept in a note
    note = repo.get_activity(note_id)
    assert note.kind == "note" and note.contact_ids == [KEEP]
    for text in ("First name: Bob", "Job title: VP Engineering", "Lifecycle stage: Customer", "tier: Silver",
                 "Owner: ben@example.com"):
        assert text in note.body

    # the alias finds the kept contact by id and by every address
    assert repo.get_contact(MERGE).id == KEEP
    for email in ("bob@acme.com", "BOB.SMITH@gmail.com", "robert.smith@acme.com"):
        assert repo.find_contact_by_email(email).id == KEEP
    assert list(repo.contact_ref(MERGE).collection("timeline").stream()) == []
    assert repo.get_company("acme.com").contact_ids == [KEEP]
    assert find_duplicates(repo, kept) == []
    assert repo.merge_journal(MERGE)["state"] == "done"
    assert [hit.id for hit in repo.search("bob")] == [KEEP]  # by the merged address, never the alias
    assert ([c.id for c in repo.contacts_owned_by("ann@example.com", 20)],
            repo.contacts_owned_by("ben@example.com", 20)) == ([KEEP], [])  # the alias left its owner's list
    assert repo.contact_ids_by_name(["bob smith", "robert smith"]) == {"bob smith": [], "robert smith": [KEEP]}

    again = merge_contacts(repo, KEEP, MERGE)  # a second call is a no-op
    assert again.already_done and again.contact.id == KEEP


def test_a_crash_in_the_middle_of_the_timeline_and_a_retry_give_what_an_uninterrupted_merge_gives(
        repo, firestore_client):
    reference = Repository(firestore_client, "reference.example")
    ids = seed_pair(reference)
    merge_contacts(reference, KEEP, MERGE)
    seed_pair(repo)

    buckets_moved = []

    def crash_after_second_bucket(step: str) -> None:
        if step == "timeline":
            buckets_moved.append(step)
            if len(buckets_moved) == 2:
                raise Crash(step)

    with pytest.raises(Crash):
        merge_contacts(repo, KEEP, MERGE, after_step=crash_after_second_bucket)
    assert repo.contact_ref(MERGE).get().get("merged_into") is None  # not an alias yet: a retry can finish
    merge_contacts(repo, KEEP, MERGE)
    assert state(repo, ids) == state(reference, ids)


@pytest.mark.parametrize("crash_at", ["journal", "fields", "company", "alias"])
def test_a_crash_after_any_step_and_a_retry_give_the_same_result(repo, firestore_client, crash_at):
    reference = Repository(firestore_client, "reference.example")
    ids = seed_pair(reference, per_contact=30, shared=5)
    merge_contacts(reference, KEEP, MERGE)
    seed_pair(repo, per_contact=30, shared=5)

    def crash(step: str) -> None:
        if step == crash_at:
            raise Crash(step)

    with pytest.raises(Crash):
        merge_contacts(repo, KEEP, MERGE, after_step=crash)
    merge_contacts(repo, KEEP, MERGE)
    merge_contacts(repo, KEEP, MERGE)
    assert state(repo, ids) == state(reference, ids)


def test_an_unfinished_merge_blocks_merging_that_contact_elsewhere(repo):
    seed_pair(repo, per_contact=3, shared=1)
    repo.create_contact(Contact(id="c-third", emails=["third@acme.com"]))

    def crash(step: str) -> None:
        raise Crash(step)

    with pytest.raises(Crash):
        merge_contacts(repo, KEEP, MERGE, after_step=crash)
    with pytest.raises(Conflict, match="already being merged into c-keep"):
        merge_contacts(repo, "c-third", MERGE)
    merge_contacts(repo, KEEP, MERGE)
    with pytest.raises(Conflict, match="already merged into c-keep"):
        merge_contacts(repo, "c-third", MERGE)


def test_bad_merges_are_refused_before_anything_is_written(repo):
    seed_pair(repo, per_contact=3, shared=1)
    with pytest.raises(ValueError, match="into itself"):
        merge_contacts(repo, KEEP, KEEP)
    with pytest.raises(NotFound):
        merge_contacts(repo, KEEP, "nobody")
    with pytest.raises(NotFound):
        merge_contacts(repo, "nobody", MERGE)
    assert repo.merge_journal(MERGE) is None
    assert repo.find_contact_by_email("bob@acme.com").id == MERGE


def test_a_chain_of_merges_resolves_in_one_hop(repo):
    for cid, email in (("c-a", "a@acme.com"), ("c-b", "b@acme.com"), ("c-c", "c@acme.com")):
        repo.create_contact(Contact(id=cid, emails=[email]))
    merge_contacts(repo, "c-b", "c-a")
    merge_contacts(repo, "c-c", "c-b")
    assert repo.get_contact("c-a").id == "c-c"
    assert repo.find_contact_by_email("a@acme.com").id == "c-c"


def test_similar_names_at_the_same_company_are_likely_duplicates(repo):
    repo.save_company(Company(id="acme.com", name="Acme"))
    people = {
        "bob": Contact(id="c1", emails=["bob@acme.com"], first_name="Bob", last_name="Smith", company_id="acme.com"),
        "robert": Contact(id="c2", emails=["rsmith@acme.com"], first_name="Robert", last_name="Smith",
                          company_id="acme.com"),
        "jon": Contact(id="c3", emails=["jon.smith@acme.com"], first_name="", last_name="", company_id="acme.com"),
        "john": Contact(id="c4", emails=["john@acme.com"], first_name="John", last_name="Smith",
                        company_id="acme.com"),
        "jane": Contact(id="c5", emails=["jane@acme.com"], first_name="Jane", last_name="Smith",
                        company_id="acme.com"),
        "smyth": Contact(id="c7", emails=["j.smyth@acme.com"], first_name="John", last_name="Smyth",
                         company_id="acme.com"),
        "elsewhere": Contact(id="c6", emails=["robert@globex.com"], first_name="Robert", last_name="Smith",
                             company_id="globex.com"),
    }
    for contact in people.values():
        repo.create_contact(contact)
    found = {d.contact.id: (d.reason, d.score) for d in find_duplicates(repo, people["bob"])}
    assert set(found) == {"c2"} and found["c2"][0] == SIMILAR_NAME and found["c2"][1] >= 88
    found = {d.contact.id: d.reason for d in find_duplicates(repo, people["john"])}
    assert found == {"c3": SIMILAR_NAME, "c7": SIMILAR_NAME}  # a name from the address; a typo
    assert find_duplicates(repo, people["jane"]) == []


def test_the_same_address_on_two_contacts_is_found_by_the_card_and_the_scan(repo):
    repo.create_contact(Contact(id="c1", emails=["jane@acme.com"], first_name="Jane"))
    # an import racing an edit: c2 claims the address without the index check
    with repo.batch() as writer:
        twin = Contact(id="c2", emails=["jane@acme.com", "jd@gmail.com"], first_name="J")
        from models.repository import contact_to_doc
        writer.set(repo.contact_ref("c2"), contact_to_doc(twin))
        writer.set(repo.email_ref("jane@acme.com"), {"contact_id": "c2", "domain": "acme.com"})
        writer.set(repo.email_ref("jd@gmail.com"), {"contact_id": "c2", "domain": "gmail.com"})
    (duplicate,) = find_duplicates(repo, repo.get_contact("c1"))
    assert (duplicate.contact.id, duplicate.reason, duplicate.score) == ("c2", SAME_ADDRESS, 100.0)
    conflicts = scan_address_conflicts(repo)
    assert [(c.email, c.listed_by, c.indexed_to) for c in conflicts] == [("jane@acme.com", "c1", "c2")]
    merge_contacts(repo, "c2", "c1")
    assert scan_address_conflicts(repo) == []


def test_absorb_fills_unions_and_reports_conflicts_idempotently():
    kept = Contact(id="k", emails=["a@x.com"], first_name="Ann", tags=["A"], custom={"n": 1})
    other = Contact(id="o", emails=["b@x.com", "a@x.com"], first_name="Anne", last_name="Lee", tags=["a", "b"],
                    custom={"n": 2, "m": 3})
    first = absorb(kept, other)
    second = absorb(kept, other)
    assert first == second and [c.field for c in first] == ["first_name", "custom.n"]
    assert (kept.emails, kept.tags, kept.last_name, kept.custom) == (["a@x.com", "b@x.com"], ["A", "b"], "Lee",
                                                                     {"n": 1, "m": 3})
    assert contact_id_for("a@x.com") != contact_id_for("b@x.com")
