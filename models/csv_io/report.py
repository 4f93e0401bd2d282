"""The import's report: what became of every row of the file, and the warnings."""

from __future__ import annotations

import csv
import dataclasses
from typing import TextIO

WARNINGS_SHOWN = 50  # the printed report lists this many warnings; --report has them all

CREATED, UPDATED, UNCHANGED, MERGED, REJECTED, BLANK = "created", "updated", "unchanged", "merged", "rejected", "blank"
IMPORTED_OUTCOMES = (CREATED, UPDATED, UNCHANGED)


@dataclasses.dataclass
class RowOutcome:
    """What became of one data row of the file."""

    line: int  # the file's line where the row starts (the header is line 1)
    outcome: str  # created, updated, unchanged, merged, rejected, blank
    email: str = ""
    contact_id: str = ""
    detail: str = ""  # why it was rejected, or which line it merged into


@dataclasses.dataclass
class ImportReport:
    """Accounts for every row: imported (created + updated + unchanged) + merged + rejected + blank = rows."""

    rows: list[RowOutcome] = dataclasses.field(default_factory=list)
    warnings: list[RowOutcome] = dataclasses.field(default_factory=list)
    ignored_columns: list[str] = dataclasses.field(default_factory=list)
    columns: dict[str, str] = dataclasses.field(default_factory=dict)  # header -> what it filled
    notes: list[str] = dataclasses.field(default_factory=list)
    contacts_written: int = 0
    companies_written: int = 0
    writes: int = 0
    dry_run: bool = False

    def count(self, *outcomes: str) -> int:
        return sum(1 for row in self.rows if row.outcome in outcomes)

    @property
    def imported(self) -> int:
        return self.count(*IMPORTED_OUTCOMES)

    @property
    def rejected(self) -> list[RowOutcome]:
        return [row for row in self.rows if row.outcome == REJECTED]

    def lines(self) -> list[str]:
        """The human report the CLI prints."""
        verb = "would write" if self.dry_run else "wrote"
        out = [f"rows: {len(self.rows)}  imported: {self.imported} (created {self.count(CREATED)}, "
               f"updated {self.count(UPDATED)}, unchanged {self.count(UNCHANGED)})  merged: {self.count(MERGED)}  "
               f"rejected: {self.count(REJECTED)}  blank: {self.count(BLANK)}",
               f"{verb} {self.contacts_written} contacts and {self.companies_written} companies "
               f"({self.writes} document writes)" + ("  [dry run: nothing was written]" if self.dry_run else "")]
        out += [f"note: {note}" for note in self.notes]
        if self.ignored_columns:
            out.append("ignored columns: " + ", ".join(self.ignored_columns))
        for row in self.rejected:
            out.append(f"line {row.line}: rejected: {row.detail}")
        for row in self.warnings[:WARNINGS_SHOWN]:
            out.append(f"line {row.line}: warning: {row.detail}")
        if len(self.warnings) > WARNINGS_SHOWN:
            out.append(f"... and {len(self.warnings) - WARNINGS_SHOWN} more warnings (see --report)")
        return out

    def write_csv(self, out: TextIO) -> None:
        """One line per row of the imported file, then the warnings."""
        writer = csv.writer(out)
        writer.writerow(["line", "outcome", "email", "contact_id", "detail"])
        for row in [*self.rows, *self.warnings]:
            writer.writerow([row.line, row.outcome, row.email, row.contact_id, row.detail])


