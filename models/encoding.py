"""Document writes encoded straight into Firestore's protobuf, for sync's bulk commits.

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
non-public names used, both of google-cloud-firestore, whose version is pinned
in requirements.txt for that reason:

- `WriteBatch._add_write_pbs(writes)`, the hook through which the client's own
  `set`, `update` and `delete` add their `Write` messages to a batch;
- `DocumentReference._document_path`, the full resource name
  (`projects/{p}/databases/{d}/documents/{path}`) the client computes and
  caches; the database id has no public accessor on the client.
"""

from __future__ import annotations

import datetime as dt

from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.cloud.firestore_v1 import transforms
from google.cloud.firestore_v1.field_path import FieldPath
from google.cloud.firestore_v1.types import common as common_types
from google.cloud.firestore_v1.types import document as document_types
from google.cloud.firestore_v1.types import write as write_types
from google.protobuf import struct_pb2, timestamp_pb2

_Value = document_types.Value.pb()
_ArrayValue = document_types.ArrayValue.pb()
_MapValue = document_types.MapValue.pb()
_Document = document_types.Document.pb()
_Write = write_types.Write.pb()
_DocumentMask = common_types.DocumentMask.pb()
_FieldTransform = write_types.DocumentTransform.FieldTransform.pb()


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
