"""Spreadsheet import and export of contacts (SPEC §8: teams leaving spreadsheets).

One job a module: `reading` (bytes to rows: encoding, separator, escaping),
`columns` (which field each column fills), `rows` (one row validated by
`models.rules` into a contact-shaped value), `importing` (dedupe, the merge
rule, and the plan the repository writes), `report` (what became of every
row) and `exporting`. This package's names are the public interface
(`python -m models` uses them).
"""

from __future__ import annotations

from models.csv_io.exporting import export_companies, export_contacts
from models.csv_io.importing import import_contacts
from models.csv_io.reading import CsvImportError
from models.csv_io.report import (
    BLANK,
    CREATED,
    IMPORTED_OUTCOMES,
    MERGED,
    REJECTED,
    UNCHANGED,
    UPDATED,
    ImportReport,
    RowOutcome,
)

__all__ = ["BLANK", "CREATED", "IMPORTED_OUTCOMES", "MERGED", "REJECTED", "UNCHANGED", "UPDATED", "CsvImportError",
           "ImportReport", "RowOutcome", "export_companies", "export_contacts", "import_contacts"]
