"""Reading a spreadsheet file: its encoding, its separator, its rows.

Bytes are decoded as UTF-8 (a BOM is dropped; a UTF-16 BOM, as Excel's
"Unicode text" writes, is honoured); a file that is not UTF-8 is read as
Windows-1252, the encoding Excel uses for "CSV" on Western Windows, and the
report says so. The separator is whichever of comma, semicolon and tab occurs
most in the header line (Excel writes semicolons where the decimal mark is a
comma); quoted fields, separators and line breaks inside quotes, and blank lines
are handled by the `csv` module. A cell that an export protected against
formula injection (`'=...`) loses its apostrophe again (`unescape`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator

LIST_SEPARATOR = "; "  # how exports join emails and tags; imports split on ";" and Google's ":::"
_LIST_SPLIT = re.compile(r"\s*(?::::|;)\s*")
_SEPARATORS = (",", ";", "\t")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: cells a spreadsheet may run as a formula


class CsvImportError(ValueError):
    """The file as a whole cannot be imported (nothing was written); the message says why."""


def decode(data: bytes) -> tuple[str, list[str]]:
    """The file's text and notes on how it was read (see module doc)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), []
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), ["read as UTF-16 (the file starts with a UTF-16 byte order mark)"]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        note = (f"the file is not UTF-8 (byte {exc.start}); read it as Windows-1252. "
                "Save it as 'CSV UTF-8' if accented letters look wrong")
        return data.decode("cp1252", errors="replace"), [note]


def sniff_separator(text: str) -> str:
    """The separator of the header line: the most frequent of comma, semicolon and tab (comma on a tie)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {sep: unquoted.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_table(text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]], str]:
    """(header, (line, cells) for each row after it, separator); blank lines come back as empty rows."""
    separator = sniff_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    header: list[str] | None = None
    for cells in reader:
        if any(cell.strip() for cell in cells):
            header = cells
            break
    if header is None:
        raise CsvImportError("the file is empty: it has no header row")

    def rows() -> Iterator[tuple[int, list[str]]]:
        start = reader.line_num + 1
        try:
            for cells in reader:
                yield start, cells
                start = reader.line_num + 1
        except csv.Error as exc:
            raise CsvImportError(f"line {reader.line_num}: the file is not valid CSV ({exc})") from None

    return header, rows(), separator


def unescape(cell: str) -> str:
    """A cell as it was typed: trimmed, and without the apostrophe an export put before a formula start."""
    cell = cell.strip()
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_STARTS:
        return cell[1:]
    return cell


def escape(value: object) -> str:
    """A cell a spreadsheet shows as text; `unescape` strips the apostrophe again."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def split_list(value: str) -> list[str]:
    """The parts of a cell holding several values ("a; b", Google's "a ::: b")."""
    return [part for part in _LIST_SPLIT.split(value) if part]
