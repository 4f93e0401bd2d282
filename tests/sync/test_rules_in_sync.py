"""Sync names a company it has never seen by the same rule as the card and the CSV import (models.rules)."""

from __future__ import annotations

import datetime as dt

from models.domain import Participant
from models.repository import activity_id_for
from models.rules import company_name_for
from sync.linking import Item, Team
from sync.writer import SyncWriter, TenantState

REP = "rep@example.com"
AT = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def test_sync_guesses_a_new_company_name_as_the_card_does(repo):
    key = "<1@example.com>"
    item = Item(external_key=key, activity_id=activity_id_for(key), kind="email", held_id="1", at=AT,
                subject="Proposal", participants=[Participant(REP, "Rep", "from"),
                                                  Participant("pat@acme-labs.co.uk", "Pat Lee", "to")])
    writer = SyncWriter(TenantState(repo, Team("example.com", repo.get_settings())), REP)
    writer.store([item])
    writer.drain()
    writer.close()
    assert repo.get_company("acme-labs.co.uk").name == company_name_for("acme-labs.co.uk") == "Acme Labs"
