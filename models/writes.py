"""Something that collects Firestore writes and commits them: one protocol, two implementations.

The repository's write operations (`put_activity`, `record_touches`,
`remove_activity`, ...) take a `WriteSet` and add their writes to it, so a
caller decides what commits together without knowing which documents are
written. What goes in is Firestore's own vocabulary: `set` (with `merge=True`
a field-level merge, whose values may be transforms such as `Maximum` or
`ArrayUnion`, or `DELETE_FIELD`), `update` and `delete`. Firestore's own
`WriteBatch` and `Transaction` have exactly these methods, so either stands
wherever a write set is expected.

- `BufferedWriteSet` (the repository's `batch()`): commits every
  `FIRESTORE_BATCH_MAX` writes and on `commit()`; as a context manager it
  commits on a clean exit and drops the buffer on error.
- `RecordingWriteSet`: keeps the writes as `Write` records and commits
  nothing itself, for tests, dry runs and callers that plan writes first and
  hand them to the repository (`Repository.commit_recorded`) later: sync's
  chunks, the CSV import's units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple, Protocol

FIRESTORE_BATCH_MAX = 500  # Firestore: at most 500 writes in one batch or transaction

Merge = bool | Sequence[str]


class WriteSet(Protocol):
    """Collects writes; `commit()` sends what is collected (see the module doc)."""

    def set(self, ref: Any, data: Mapping[str, Any], merge: Merge = False) -> Any: ...

    def update(self, ref: Any, data: Mapping[str, Any]) -> Any: ...

    def delete(self, ref: Any) -> Any: ...

    def commit(self) -> Any: ...


class Write(NamedTuple):
    """One recorded write: `op` is "set", "update" or "delete" (`data` None for a delete).

    A tuple, not a frozen dataclass: sync records two a message, and recording one took half the time.
    """

    op: Literal["set", "update", "delete"]
    ref: Any
    data: Mapping[str, Any] | None = None
    merge: Merge = False


class RecordingWriteSet:
    """Records writes in order and commits nothing (module doc); `commits` counts `commit()` calls."""

    def __init__(self) -> None:
        self.writes: list[Write] = []
        self.commits = 0

    def set(self, ref: Any, data: Mapping[str, Any], merge: Merge = False) -> None:
        self.writes.append(Write("set", ref, data, merge))

    def update(self, ref: Any, data: Mapping[str, Any]) -> None:
        self.writes.append(Write("update", ref, data))

    def delete(self, ref: Any) -> None:
        self.writes.append(Write("delete", ref))

    def commit(self) -> None:
        self.commits += 1

    def __len__(self) -> int:
        return len(self.writes)


class BufferedWriteSet:
    """Firestore writes committed at most `FIRESTORE_BATCH_MAX` at a time (module doc).

    `writes` counts every write committed, for the benchmarks. `timeout` and
    `retry` are passed to each commit (the web path's deadline).
    """

    def __init__(self, client: Any, timeout: float | None = None, retry: Any = None):
        self._client = client
        self._options: dict[str, Any] = {}
        if timeout is not None:
            self._options.update(timeout=timeout, retry=retry)
        self._batch = client.batch()
        self._pending = 0
        self.writes = 0

    def set(self, ref: Any, data: Mapping[str, Any], merge: Merge = False) -> None:
        self._batch.set(ref, data, merge=merge)
        self._count()

    def update(self, ref: Any, data: Mapping[str, Any]) -> None:
        self._batch.update(ref, data)
        self._count()

    def delete(self, ref: Any) -> None:
        self._batch.delete(ref)
        self._count()

    def _count(self) -> None:
        self._pending += 1
        if self._pending >= FIRESTORE_BATCH_MAX:
            self.commit()

    def commit(self) -> None:
        if self._pending:
            self._batch.commit(**self._options)
            self.writes += self._pending
        self._batch = self._client.batch()
        self._pending = 0

    def __enter__(self) -> BufferedWriteSet:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
