"""Writes two processes make at once (issue 14 point 3): field-level merges, and the one release transaction.

Each writer below works from its own stale view of the activity, as two workers syncing different reps
who share a thread do: nothing either writes may lose what the other wrote.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading

from models.domain import Activity, Participant
from models.repository import EXCLUSION_KEYS, Repository, TimelinePlacement, activity_id_for, month_of

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ANN, BOB, CAT = "ann@example.com", "bob@example.com", "cat@example.com"


def shared(holders: dict[str, str], contact_ids: list[str]) -> Activity:
    return Activity(id=activity_id_for("<shared@acme.co.uk>"), kind="email", at=T0, subject="Renewal",
                    participants=[Participant(email="pat@acme.co.uk", role="from")], contact_ids=contact_ids,
                    company_ids=["acme.co.uk"] if contact_ids else [], holders=holders,
                    external_key="<shared@acme.co.uk>")


def rows(repo: Repository, contact_id: str) -> dict[str, list[str]]:
    """Activity id -> the holders its row on the contact's timeline names (one month: T0's)."""
    data = repo.timeline_ref(contact_id, month_of(T0)).get().to_dict() or {}
    return {aid: json.loads(raw)["holders"] for aid, raw in (data.get("entries") or {}).items()}


def write(repo: Repository, activity: Activity, holder: str) -> None:
    with repo.batch() as batch:
        repo.put_activities(batch, [activity], holders=[holder])


def test_two_writers_from_stale_views_keep_both_holders_and_both_links(repo):
    write(repo, shared({ANN: "m-ann"}, ["c-pat"]), ANN)
    write(repo, shared({BOB: "m-bob"}, ["c-lee"]), BOB)  # never read Ann's: a whole-document set would drop her

    stored = repo.get_activity(shared({}, []).id)
    assert stored.holders == {ANN: "m-ann", BOB: "m-bob"}
    assert sorted(stored.contact_ids) == ["c-lee", "c-pat"]
    assert stored.company_ids == ["acme.co.uk"]
    assert list(rows(repo, "c-pat")) == list(rows(repo, "c-lee")) == [stored.id]


def test_an_activity_without_links_still_stores_empty_lists_and_keeps_links_written_later(repo):
    write(repo, shared({ANN: "m-ann"}, []), ANN)
    assert repo.get_activity(shared({}, []).id).contact_ids == []
    write(repo, shared({BOB: "m-bob"}, ["c-pat"]), BOB)
    write(repo, shared({ANN: "m-ann"}, []), ANN)  # a rerun without the link removes nothing
    assert repo.get_activity(shared({}, []).id).contact_ids == ["c-pat"]


def test_a_release_keeps_an_activity_whose_other_holder_arrived_after_it_was_read(repo):
    write(repo, shared({ANN: "m-ann"}, ["c-pat"]), ANN)
    seen_by_ann = repo.get_activity(shared({}, []).id)  # Ann's view: she is the last holder
    write(repo, shared({BOB: "m-bob"}, ["c-pat"]), BOB)

    assert repo.release_activities(ANN, [seen_by_ann.id]) == 1
    stored = repo.get_activity(seen_by_ann.id)
    assert stored.holders == {BOB: "m-bob"}
    assert rows(repo, "c-pat") == {seen_by_ann.id: [BOB]}


def test_holders_letting_go_at_once_leave_no_holderless_activity(repo):
    holders = {ANN: "m-ann", BOB: "m-bob", CAT: "m-cat"}
    for mailbox in holders:
        write(repo, shared({mailbox: holders[mailbox]}, ["c-pat"]), mailbox)
    activity_id = shared({}, []).id
    start = threading.Barrier(len(holders))
    released: dict[str, int] = {}

    def release(mailbox: str) -> None:
        start.wait()
        released[mailbox] = repo.release_activities(mailbox, [activity_id])

    threads = [threading.Thread(target=release, args=(m,)) for m in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert released == {m: 1 for m in holders}
    assert repo.get_activities([activity_id]) == {}  # the last one to let go removed it
    assert rows(repo, "c-pat") == {}


def test_a_release_by_one_of_two_holders_rewrites_the_timeline_row_with_the_holder_left(repo):
    write(repo, shared({ANN: "m-ann"}, ["c-pat"]), ANN)
    write(repo, shared({ANN: "m-ann", BOB: "m-bob"}, ["c-pat"]), BOB)

    repo.release_activities(BOB, [shared({}, []).id])
    assert rows(repo, "c-pat") == {shared({}, []).id: [ANN]}


def test_a_release_rewrites_the_row_in_the_bucket_it_was_placed_in_and_keeps_privacy_and_exclusion_keys(repo):
    placement = TimelinePlacement(repo, part_rows=1)  # one row a part: the shared one goes to the month's second
    filler = Activity(id=activity_id_for("<filler@acme.co.uk>"), kind="email", at=T0, subject="Earlier",
                      participants=[Participant(email="pat@acme.co.uk", role="from")], contact_ids=["c-pat"],
                      holders={ANN: "m-filler"}, external_key="<filler@acme.co.uk>")
    ann = dataclasses.replace(shared({ANN: "m-ann"}, ["c-pat"]), private=True, subject="")
    for activity in (filler, ann):
        with repo.batch() as batch:
            repo.put_activities(batch, [activity], placement, holders=[ANN])
    bucket = ann.timeline_buckets["c-pat"]
    assert bucket != month_of(T0)
    # Bob's writer read what was stored (the bucket it is placed in) and writes his holder only
    bob = dataclasses.replace(shared({BOB: "m-bob"}, ["c-pat"]), private=True, subject="",
                              timeline_buckets=dict(repo.get_activity(ann.id).timeline_buckets))
    write(repo, bob, BOB)

    assert repo.release_activities(BOB, [ann.id]) == 1
    row = json.loads(repo.timeline_ref("c-pat", bucket).get().to_dict()["entries"][ann.id])
    assert row["holders"] == [ANN] and row["private"] is True
    assert ann.id not in rows(repo, "c-pat")  # nothing written to the month's first bucket
    kept = repo.get_activity(ann.id)
    assert kept.holders == {ANN: "m-ann"} and kept.private and kept.timeline_buckets == {"c-pat": bucket}
    assert repo.activity_ref(ann.id).get().to_dict()[EXCLUSION_KEYS]
