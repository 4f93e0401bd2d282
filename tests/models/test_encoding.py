"""models.encoding encodes plain sets into the very messages the Firestore client makes."""

from __future__ import annotations

import datetime as dt

import pytest
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.vector import Vector

from models import encoding
from models.domain import Activity, Participant
from models.repository import activity_to_doc

AT = dt.datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)


@pytest.fixture
def ref():
    client = firestore.Client(project="p", credentials=AnonymousCredentials())
    return client.collection("tenants").document("example.com").collection("activities").document("a1")


@pytest.mark.parametrize("data", [
    activity_to_doc(Activity(id="a1", kind="email", at=AT, subject="Hé", snippet="x", direction="outbound",
                             participants=[Participant("jane@acme.co.uk", "Doe, Jane", "to")],
                             contact_ids=["c1", "c2"], company_ids=["acme.co.uk"],
                             holders={"rep@example.com": "18c"}, external_key="<k@x>")),
    {"none": None, "flag": True, "count": 3, "ratio": 0.5, "empty_map": {}, "empty_list": [],
     "nanos": DatetimeWithNanoseconds(2025, 1, 1, tzinfo=dt.UTC, nanosecond=7), "naive": dt.datetime(2025, 1, 1),
     "nested": {"a": {"b": [1, {"c": None}, "d"]}}},
])
def test_a_plain_set_encodes_to_the_clients_own_message(ref, data):
    [expected] = _helpers.pbs_for_set_no_merge(ref._document_path, data)

    assert encoding.set_write(ref, data)._pb == expected._pb


@pytest.mark.parametrize("data", [
    {"entries": {"a3f09c": '{"kind":"email"}', "a0b1": "row"}},
    {"touches": {"rep@example.com": 1.5, "b": {"c d": "x", "e": {}}}, "name": "Acme", "ids": ["x"], "at": AT},
    {"z": 1, "a": {"y": None, "b": [1, 2]}, "m": {}},
])
def test_a_plain_merge_encodes_to_the_clients_own_message(ref, data):
    [expected] = _helpers.pbs_for_set_with_merge(ref._document_path, data, merge=True)

    assert encoding.set_write(ref, data, merge=True)._pb == expected._pb


@pytest.mark.parametrize("data", [
    {"last_activity_at": firestore.Maximum(1.5), "emails_in": firestore.Maximum(3),
     "touches": {"rep@example.com": firestore.Maximum(2.0), "b%40x": firestore.Maximum(1)},
     "timeline_months": firestore.ArrayUnion(["2025-02", "2025-01"])},
    {"activity_ids": firestore.ArrayUnion(["a1", "a2"])},
    {"entries": {"a1": firestore.DELETE_FIELD, "a2": "row"}, "link_pending": firestore.DELETE_FIELD},
    {"n": firestore.Minimum(0), "c": firestore.Increment(2), "gone": firestore.ArrayRemove([{"x": 1}]),
     "name": "Acme", "m": {"e": {}, "t": firestore.Maximum(7)}},
])
def test_a_merge_with_transforms_and_deletes_encodes_to_the_clients_own_message(ref, data):
    [expected] = _helpers.pbs_for_set_with_merge(ref._document_path, data, merge=True)

    assert encoding.set_write(ref, data, merge=True)._pb == expected._pb


@pytest.mark.parametrize("data", [{"gone": firestore.DELETE_FIELD}, {"n": firestore.Maximum(3)},
                                  {"ids": firestore.ArrayUnion(["a"])}, {"at": firestore.SERVER_TIMESTAMP}])
def test_sentinels_and_transforms_outside_a_merge_are_left_to_the_client(ref, data):
    with pytest.raises(encoding.NotPlain):
        encoding.set_write(ref, data)


@pytest.mark.parametrize("data", [{"at": firestore.SERVER_TIMESTAMP}, {"a.b": 1}, {}])
def test_what_a_merge_cannot_encode_is_left_to_the_client(ref, data):
    with pytest.raises(encoding.NotPlain):
        encoding.set_write(ref, data, merge=True)


@pytest.mark.parametrize("value", [
    None, True, 0, -7, 2.5, "", "Hé", b"\x00\x01", AT, DatetimeWithNanoseconds(2025, 1, 1, tzinfo=dt.UTC, nanosecond=7),
    [], [1, "a", None, {"x": [2.0]}], {}, {"only": "one key"}, {"__type__": "__vector__", "value": [1.0, 2.0]},
    {"a1": "1735689600|e|o|rep@example.com|3f2a|", "a2": "1735693200|e|i||3f2a|60", "n": {"lo": 1.5, "hi": 2}},
    firestore.GeoPoint(1.5, -2.25), Vector([0.5, 1.5]),
])
def test_a_stored_value_decodes_as_the_client_decodes_it(value):
    raw = _helpers.encode_value(value)

    mine, theirs = encoding.decode_value(raw._pb, None), _helpers.decode_value(raw, None)

    assert mine == theirs and type(mine) is type(theirs)


def test_a_batch_read_gives_what_the_clients_get_all_gives(firestore_client):
    docs = firestore_client.collection("tenants").document("example.com").collection("contacts")
    stored = {"c1": {"emails": ["a@x.com"], "exchanges": {f"a{n}": f"{n}|e|o|r@example.com|t|" for n in range(50)},
                     "touches": {"r%40example.com": 1.5}, "custom": {}, "at": AT, "n": 3, "merged_into": None},
              "c2": {"entries": {"a1": '{"at":"2025-01-01T00:00:00+00:00"}'}, "rows": 1}}
    for doc_id, data in stored.items():
        docs.document(doc_id).set(data)
    refs = [docs.document("c1"), docs.document("gone"), docs.document("c2")]

    for mask in (None, ["emails", "n", "rows"]):
        theirs = {s.reference.path: s.to_dict() for s in firestore_client.get_all(refs, field_paths=mask)
                  if s.exists}
        mine = list(encoding.batch_get(firestore_client, refs, field_paths=mask))

        assert {d.reference.path: d.to_dict() for d in mine} == theirs and len(theirs) == 2
        assert {d.id for d in mine} == {"c1", "c2"} and all(d.exists for d in mine)
        assert all(d.reference in refs for d in mine)


def test_reading_every_document_gives_what_the_clients_snapshots_say_missing_ones_included(firestore_client):
    docs = firestore_client.collection("tenants").document("example.com").collection("leases")
    docs.document("held").set({"owner": "host/1/abc", "ttl_seconds": 60.0, "fence": 3, "at": AT})
    refs = [docs.document("held"), docs.document("never")]

    theirs = {s.reference.path: s for s in firestore_client.get_all(refs)}
    mine = encoding.read_all(firestore_client, refs)

    assert set(mine) == set(theirs) == {ref.path for ref in refs}
    for path, snapshot in theirs.items():
        assert (mine[path].exists, mine[path].to_dict(), mine[path].update_time, mine[path].id) == (
            snapshot.exists, snapshot.to_dict(), snapshot.update_time, snapshot.id)
        assert mine[path].read_time is not None and mine[path].reference in refs
