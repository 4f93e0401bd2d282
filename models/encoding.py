"""Documents encoded straight into Firestore's protobuf for sync's bulk commits, and decoded from it for reads.

Used by `Repository.commit_recorded` only (it lives in `models/` because the
repository is the one module that commits; it was `sync/documents.py`).

The Firestore client encodes every value through proto-plus wrappers; in a
full sync that was the largest share of the time the process held the GIL
(py-spy: about 30%, most of it the activity documents). A `set` of the types
sync stores (None, bool, int, float, str, datetime, and lists and dicts of
them) is encoded here into the same `Write` message, built on the raw protobuf
classes; a merge may also hold `DELETE_FIELD` and the numeric and array
transforms (`Maximum`, `Minimum`, `Increment`, `ArrayUnion`, `ArrayRemove`:
the counters and timeline months of every chunk, another 8% of the sync's
samples through the client). Anything else (a server timestamp, a reference, a
top-level key the client would parse as a dotted path, merge by field list)
goes through the client's own `WriteBatch.set`. tests/models/test_encoding.py
checks that both paths give equal messages.

Public interfaces otherwise: the proto-plus classes' `.pb()` and `.wrap()`,
protobuf's `Timestamp.FromDatetime`, `DatetimeWithNanoseconds.timestamp_pb()`,
`FieldPath.to_api_repr()` and the transform classes' `value`/`values`. The
non-public names used, all of google-cloud-firestore, whose version is pinned
in requirements.txt for that reason:

- `WriteBatch._add_write_pbs(writes)`, the hook through which the client's own
  `set`, `update` and `delete` add their `Write` messages to a batch;
- `DocumentReference._document_path`, the full resource name
  (`projects/{p}/databases/{d}/documents/{path}`) the client computes and
  caches; the database id has no public accessor on the client;
- for reads (`batch_get`): `Client._firestore_api`, the generated client the
  Firestore client sends every call through (so tests that count its calls
  count these too), and `Client._rpc_metadata`, the headers it sends with each
  (the database's routing prefix, and the emulator's credentials); and
  `_helpers.decode_value`/`decode_dict`, the client's own decoders, for the
  values decoded here only as they would decode them (references, geo points,
  bytes, vectors and BSON values).

Reading: `Repository.get_all` reads through `batch_get`, which sends the
BatchGetDocuments request `Client.get_all` sends and decodes each found
document straight from the raw protobuf into plain values, once. The client's
path decoded through proto-plus and then deep-copied each document twice (when
its snapshot is made, and on `to_dict()` or `get()`): for a Gmail card (a
contact with 200 exchanges and a 200-row timeline part) that was about a
fifth of the request's profiled time outside waiting for the emulator. tests/models/test_encoding.py checks
that both decoders give equal values and both reads equal documents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.cloud.firestore_v1 import _helpers, transforms
from google.cloud.firestore_v1.field_path import FieldPath, get_nested_value
from google.cloud.firestore_v1.types import common as common_types
from google.cloud.firestore_v1.types import document as document_types
from google.cloud.firestore_v1.types import firestore as firestore_types
from google.cloud.firestore_v1.types import write as write_types
from google.protobuf import struct_pb2, timestamp_pb2

_Value = document_types.Value.pb()
_ArrayValue = document_types.ArrayValue.pb()
_MapValue = document_types.MapValue.pb()
_Document = document_types.Document.pb()
_Write = write_types.Write.pb()
_DocumentMask = common_types.DocumentMask.pb()
_FieldTransform = write_types.DocumentTransform.FieldTransform.pb()
_BatchGetResponse = firestore_types.BatchGetDocumentsResponse


class NotPlain(TypeError):
    """A value this module does not encode (a sentinel, a transform, a reference...): use the client."""


def encode_value(value):
    """The raw `google.firestore.v1.Value` for a plain value, as the client's `encode_value` makes it."""
    if value is None:
        return _Value(null_value=struct_pb2.NULL_VALUE)
    if isinstance(value, bool):  # before int: bool is an int
        return _Value(boolean_value=value)
    if isinstance(value, int):
        return _Value(integer_value=value)
    if isinstance(value, float):
        return _Value(double_value=value)
    if isinstance(value, DatetimeWithNanoseconds):
        return _Value(timestamp_value=value.timestamp_pb())
    if isinstance(value, dt.datetime):
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(value)  # a naive datetime is taken as UTC, as the client takes it
        return _Value(timestamp_value=stamp)
    if isinstance(value, str):
        return _Value(string_value=value)
    if isinstance(value, (list, tuple)):
        return _Value(array_value=_ArrayValue(values=[encode_value(v) for v in value]))
    if isinstance(value, dict):
        return _Value(map_value=_MapValue(fields=encode_fields(value)))
    raise NotPlain(type(value).__name__)


def encode_fields(data: dict) -> dict:
    fields = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise NotPlain("non-string key")
        fields[key] = encode_value(value)
    return fields


def _number(transform) -> object:
    return encode_value(transform.value)


def _array(transform) -> object:
    return _ArrayValue(values=[encode_value(v) for v in transform.values])


_TRANSFORMS = {  # transform class -> (its FieldTransform field, its encoded operand)
    transforms.Maximum: ("maximum", _number),
    transforms.Minimum: ("minimum", _number),
    transforms.Increment: ("increment", _number),
    transforms.ArrayUnion: ("append_missing_elements", _array),
    transforms.ArrayRemove: ("remove_all_from_array", _array),
}
_TOP_LEVEL_SPECIAL = frozenset(".`~*/[]")  # a merge's top-level keys are parsed as field paths by the client


def _split_merge(data: dict, fields: dict, mask: list, changes: list, prefix: tuple[str, ...] = ()) -> None:
    """Walk a merge's data: plain values into `fields` (their paths into `mask`), deletes into
    `mask` alone, numeric and array transforms into `changes` as (path, FieldTransform)."""
    for key, value in data.items():
        if not isinstance(key, str):
            raise NotPlain("non-string key")
        path = (*prefix, key)
        if isinstance(value, dict) and value:
            inner: dict = {}
            _split_merge(value, inner, mask, changes, path)
            if inner:
                fields[key] = _Value(map_value=_MapValue(fields=inner))
        elif value is transforms.DELETE_FIELD:
            mask.append(path)
        elif type(value) in _TRANSFORMS:
            name, operand = _TRANSFORMS[type(value)]
            change = _FieldTransform(field_path=FieldPath(*path).to_api_repr())
            getattr(change, name).CopyFrom(operand(value))
            changes.append((path, change))
        else:
            fields[key] = encode_value(value)  # an empty map included: a merge sets it
            mask.append(path)


def set_write(ref, data: dict, merge: bool = False) -> write_types.Write:
    """The `Write` of `ref.set(data, merge=merge)`; NotPlain when the data needs the client's path."""
    if not merge:
        return write_types.Write.wrap(_Write(update=_Document(name=ref._document_path, fields=encode_fields(data))))
    if any(_TOP_LEVEL_SPECIAL.intersection(key) for key in data if isinstance(key, str)):
        raise NotPlain("a top-level key the client would parse as a path")
    fields: dict = {}
    mask: list[tuple[str, ...]] = []
    changes: list = []
    _split_merge(data, fields, mask, changes)
    if not mask and not changes:
        raise NotPlain("empty merge")
    write = _Write(update=_Document(name=ref._document_path, fields=fields),  # the client's order: paths sorted
                   update_mask=_DocumentMask(field_paths=[FieldPath(*path).to_api_repr() for path in sorted(mask)]))
    write.update_transforms.extend(change for _, change in sorted(changes, key=lambda pair: pair[0]))
    return write_types.Write.wrap(write)


def add_set(batch, ref, data: dict, merge: bool | list = False) -> None:
    """`batch.set(ref, data, merge=merge)`, through the fast path when the write is a plain set."""
    if merge is False or merge is True:
        try:
            write = set_write(ref, data, merge)
        except NotPlain:
            pass
        else:
            batch._add_write_pbs([write])
            return
    batch.set(ref, data, merge=merge)


# --- reading ---------------------------------------------------------------------------------------------


class Document:
    """A document read by `batch_get`: what the repository uses of the client's `DocumentSnapshot`.

    The client's snapshot deep-copies its data when it is made and again on
    every `to_dict()` and `get()`, so that no caller can change it under
    another; the repository maps a read document into domain objects and
    drops it. Here the data is decoded once and handed over: `to_dict()` is a
    shallow copy (the mapping functions replace top-level values, never change
    nested ones in place) and `get()` the stored value itself.
    """

    __slots__ = ("reference", "_data", "_found", "read_time")

    def __init__(self, reference, data: dict, found, read_time=None):
        self.reference = reference
        self._data = data
        self._found = found  # the raw `Document` message, for its times
        self.read_time = read_time  # when the answer was read (`read_all`); None from `batch_get`

    exists = True  # `batch_get` yields only the documents that exist

    @property
    def id(self) -> str:
        return self.reference.id

    @property
    def update_time(self) -> DatetimeWithNanoseconds:
        return DatetimeWithNanoseconds.from_timestamp_pb(self._found.update_time)

    @property
    def create_time(self) -> DatetimeWithNanoseconds:
        return DatetimeWithNanoseconds.from_timestamp_pb(self._found.create_time)

    def to_dict(self) -> dict:
        return dict(self._data)

    def get(self, field_path: str):
        """The value at a field path ("a" or "a.b"); KeyError when there is none, as the snapshot's `get`."""
        if "." in field_path or "`" in field_path:
            return get_nested_value(field_path, self._data)
        return self._data[field_path]


def decode_value(value, client):
    """A raw `google.firestore.v1.Value` as the Python value the client's `_helpers.decode_value` gives.

    The types the repository stores are decoded here; anything else (a
    reference, a geo point, bytes) and a map that could be a vector or a BSON
    value (a `__type__` key, or a single key) goes to the client's own decoder.
    """
    kind = value.WhichOneof("value_type")
    if kind == "string_value":
        return value.string_value
    if kind == "map_value":
        fields = value.map_value.fields
        if len(fields) == 1 or "__type__" in fields:
            return _helpers.decode_dict(fields, client)
        return decode_fields(fields, client)
    if kind == "double_value":
        return value.double_value
    if kind == "integer_value":
        return value.integer_value
    if kind == "null_value":
        return None
    if kind == "boolean_value":
        return value.boolean_value
    if kind == "array_value":
        return [decode_value(item, client) for item in value.array_value.values]
    if kind == "timestamp_value":
        return DatetimeWithNanoseconds.from_timestamp_pb(value.timestamp_value)
    return _helpers.decode_value(value, client)


def decode_fields(fields, client) -> dict:
    """A document's (or a map's) fields, a string without a call of its own: the large maps the
    repository reads (a contact's exchanges, a timeline part's rows) are maps of strings."""
    decoded = {}
    for key, item in fields.items():
        is_string = item.WhichOneof("value_type") == "string_value"
        decoded[key] = item.string_value if is_string else decode_value(item, client)
    return decoded


class Absent:
    """A document `read_all` found missing: what the client's snapshot of a missing document says."""

    __slots__ = ("reference", "read_time")
    exists = False
    update_time = create_time = None

    def __init__(self, reference, read_time):
        self.reference, self.read_time = reference, read_time

    @property
    def id(self) -> str:
        return self.reference.id

    def to_dict(self) -> None:
        return None


def _batch_get(client, refs: list, field_paths: list[str] | None, rpc: dict):
    """(reference by path, the raw responses) of one BatchGetDocuments call (what `Client.get_all` sends)."""
    by_path = {ref._document_path: ref for ref in refs}
    if not by_path:
        return by_path, ()
    database = next(iter(by_path)).partition("/documents/")[0]  # "projects/{p}/databases/{d}"
    request = {"database": database, "documents": list(by_path),
               "mask": {"field_paths": list(field_paths)} if field_paths is not None else None}
    responses = client._firestore_api.batch_get_documents(request=request, metadata=client._rpc_metadata, **rpc)
    return by_path, (_BatchGetResponse.pb(response) for response in responses)


def batch_get(client, refs: list, field_paths: list[str] | None = None, **rpc) -> Iterator[Document]:
    """The existing documents among `refs`, in one BatchGetDocuments call (what `Client.get_all` sends)."""
    by_path, responses = _batch_get(client, refs, field_paths, rpc)
    for raw in responses:
        if raw.WhichOneof("result") == "found":
            found = raw.found
            yield Document(by_path[found.name], decode_fields(found.fields, client), found)


def read_all(client, refs: list, **rpc) -> dict[str, Document | Absent]:
    """Every one of `refs`, found (`Document`) or not (`Absent`), by its path (`reference.path`), each with the
    read time of its answer (`read_time`, as the client's snapshots have it): `batch_get` for callers that
    need the missing documents too (the leases: a lease never written is free)."""
    by_path, responses = _batch_get(client, refs, None, rpc)
    read: dict[str, Document | Absent] = {}
    for raw in responses:
        stamp = DatetimeWithNanoseconds.from_timestamp_pb(raw.read_time)
        if raw.WhichOneof("result") == "found":
            found = raw.found
            document = Document(by_path[found.name], decode_fields(found.fields, client), found, stamp)
        else:
            document = Absent(by_path[raw.missing], stamp)
        read[document.reference.path] = document
    return read
