"""An exclusion an admin adds while a sync run is under way holds from the next group of messages on."""

from __future__ import annotations

import datetime as dt

from models.domain import Participant, Settings
from models.repository import activity_id_for
from sync.linking import Item, Team
from sync.writer import SyncWriter, TenantState

REP = "rep@example.com"
AT = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def email_to(person: str, n: int) -> Item:
    key = f"<{n}@example.com>"
    return Item(external_key=key, activity_id=activity_id_for(key), kind="email", held_id=f"{n:x}", at=AT,
                subject=f"Proposal {n}", participants=[Participant(REP, "Rep", "from"), Participant(person, "", "to")])


def test_an_exclusion_added_mid_run_stops_the_next_group(repo):
    state = TenantState(repo, Team("example.com", repo.get_settings()))  # read when the run started
    writer = SyncWriter(state, REP)
    writer.store([email_to("pat@lawfirm.com", 1)])
    writer.drain()
    assert repo.get_activities([activity_id_for("<1@example.com>")])

    repo.save_settings(Settings(exclusions=["lawfirm.com"]))  # an admin, while the run goes on
    writer.store([email_to("ann@mail.lawfirm.com", 2), email_to("kim@keepme.com", 3)])
    writer.drain()
    writer.close()

    stored = repo.get_activities([activity_id_for(f"<{n}@example.com>") for n in (2, 3)])
    assert list(stored) == [activity_id_for("<3@example.com>")]
