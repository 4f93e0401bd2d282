"""Bulk reassignment of a departed rep's contacts (#15 acceptance 2): journaled, resumable, index kept right."""

from __future__ import annotations

import pytest

from models.__main__ import EXIT_OK, main
from models.domain import Contact, Segment
from models.reassign import CHUNK_CONTACTS, operation_id, plan, reassign_contacts
from models.repository import contact_id_for
from models.segments import save_segment
from tests.conftest import TENANT

GONE, ANA, BEN, CY = (f"{name}@{TENANT}" for name in ("gone", "ana", "ben", "cy"))
BOOK = 500


class Killed(Exception):
    """The process dies between two chunks."""


def seed_book(repo, owner: str, count: int, tag: str | None = None, start: int = 0) -> list[str]:
    ids = []
    with repo.batch() as writer:
        for n in range(start, start + count):
            email = f"buyer{n:04d}@customer{n % 7}.test"
            contact = Contact(id=contact_id_for(email), emails=[email], first_name=f"Buyer{n}", last_name="Test",
                              owner=owner, source="sync", tags=[tag] if tag else [])
            repo.put_synced_contact(writer, contact)
            ids.append(contact.id)
    return ids


def owners(repo, ids):
    return {cid: c.owner for cid, c in repo.get_contacts(ids).items()}


def test_500_contacts_killed_halfway_and_resumed_each_end_with_exactly_one_of_the_two(repo):
    ids = seed_book(repo, GONE, BOOK)
    stop_after = 2  # chunks committed before the kill: 200 of 500 contacts

    def kill(chunk: int) -> None:
        if chunk == stop_after - 1:
            raise Killed

    with pytest.raises(Killed):
        reassign_contacts(repo, GONE, [ANA, BEN], after_chunk=kill)
    halfway = owners(repo, ids)
    assert sum(1 for owner in halfway.values() if owner in (ANA, BEN)) == stop_after * CHUNK_CONTACTS
    assert sum(1 for owner in halfway.values() if owner == GONE) == BOOK - stop_after * CHUNK_CONTACTS

    report = reassign_contacts(repo, GONE, [ANA, BEN])  # the same request resumes the journaled operation

    final = owners(repo, ids)
    assert set(final) == set(ids)
    assert set(final.values()) == {ANA, BEN}
    assert sorted(ids).index(min(ids)) == 0 and final[sorted(ids)[0]] == ANA  # round-robin in id order
    assert [owner for owner in final.values()].count(ANA) == BOOK // 2
    # the owner index agrees with the contacts, and the departed rep owns nobody
    assert repo.owned_contact_ids(GONE) == []
    assert set(repo.owned_contact_ids(ANA)) == {cid for cid, owner in final.items() if owner == ANA}
    assert set(repo.owned_contact_ids(BEN)) == {cid for cid, owner in final.items() if owner == BEN}
    # the report names everything the operation moved, before and after the kill
    assert report.total == BOOK and not report.skipped
    assert {rep: len(moved) for rep, moved in report.moved.items()} == {ANA: BOOK // 2, BEN: BOOK // 2}
    assert sorted(cid for cid, _, _ in report.rows()) == sorted(ids)
    assert "reassigned 500 contacts of gone@example.com" in report.lines()[0]


def test_running_a_finished_reassignment_again_changes_nothing_and_answers_its_report(repo):
    ids = seed_book(repo, GONE, 30)
    first = reassign_contacts(repo, GONE, [ANA])
    again = reassign_contacts(repo, GONE, [ANA])

    assert again.already_done and again.total == first.total == 30
    assert set(owners(repo, ids).values()) == {ANA}


def test_a_contact_given_another_owner_meanwhile_is_skipped_not_overwritten(repo):
    ids = sorted(seed_book(repo, GONE, CHUNK_CONTACTS + 12))
    late = ids[-1]  # in the second chunk

    def kill(chunk: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        reassign_contacts(repo, GONE, [ANA], after_chunk=kill)
    taken = repo.get_contact(late)
    taken.owner = CY  # a teammate took this one while the operation was down
    repo.save_contact(taken)

    report = reassign_contacts(repo, GONE, [ANA])

    assert report.op_id == operation_id(GONE, [ANA]) and report.skipped == [late]
    assert repo.get_contact(late).owner == CY and late in repo.owned_contact_ids(CY)
    assert report.total == CHUNK_CONTACTS + 11


def test_by_segment_only_the_segments_contacts_move(repo):
    tagged = seed_book(repo, GONE, 8, tag="emea")
    others = seed_book(repo, GONE, 5, start=100)
    segment = save_segment(repo, ANA, Segment(id="s1", name="EMEA", tag="emea"))

    report = reassign_contacts(repo, GONE, [BEN, CY], segment=segment)

    assert report.total == 8
    assert set(owners(repo, tagged).values()) == {BEN, CY}
    assert set(owners(repo, others).values()) == {GONE}


def test_the_plan_is_round_robin_and_the_same_every_time():
    chunks = plan([f"c{n:03x}" for n in range(250)][::-1], [ANA, BEN, CY])
    flat = {cid: rep for chunk in chunks for cid, rep in chunk.items()}

    assert len(chunks) == 3 and [len(c) for c in chunks] == [100, 100, 50]
    assert [flat[f"c{n:03x}"] for n in range(4)] == [ANA, BEN, CY, ANA]
    assert chunks == plan([f"c{n:03x}" for n in range(250)], [ANA, BEN, CY])


@pytest.mark.parametrize("to", [[], [GONE], ["  "]])
def test_a_reassignment_needs_teammates_other_than_the_departed_rep(repo, to):
    with pytest.raises(ValueError, match="teammate"):
        reassign_contacts(repo, GONE, to)


def test_the_cli_reassigns_and_writes_a_report(repo, firestore_emulator, project_id, tmp_path, capsys):
    ids = seed_book(repo, GONE, 9)
    env = {"GOOGLE_CLOUD_PROJECT": project_id, "FIRESTORE_EMULATOR_HOST": firestore_emulator.host}

    status = main(["reassign", "--tenant", TENANT, "--from", GONE, "--to", f"{ANA},{BEN}",
                   "--report", str(tmp_path / "moved.csv")], env=env)

    assert status == EXIT_OK
    assert f"reassigned 9 contacts of {GONE} ({ANA}: 5, {BEN}: 4)" in capsys.readouterr().out
    rows = (tmp_path / "moved.csv").read_text().splitlines()
    assert rows[0] == "contact_id,from,to" and len(rows) == 10
    assert set(owners(repo, ids).values()) == {ANA, BEN}
