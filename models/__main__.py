"""`python -m models`: spreadsheet import/export and duplicate checks for one tenant.

    python -m models import contacts.csv --tenant acme.com [--map "Column=field" ...]
                     [--owner EMAIL] [--region US] [--dry-run] [--report FILE]
    python -m models export contacts|companies --tenant acme.com [-o FILE]
    python -m models duplicates --tenant acme.com
    python -m models reassign --tenant acme.com --from EMAIL --to EMAIL[,EMAIL...]
                     [--segment ID --segment-owner EMAIL] [--report FILE]

Configuration comes from `config.Config.from_env` (GOOGLE_CLOUD_PROJECT,
FIRESTORE_EMULATOR_HOST). A tool of the data layer, it needs only the
repository and connects through `models.repository.connect` itself (the
wiring module sits above `models/`). The report goes to stdout (the one place Sidecar
prints); errors go to stderr. Exit status: 0 done (rejected rows are in the
report), 1 nothing done (bad file, bad mapping, bad configuration), 2 usage.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from config import Config, ConfigError
from models.csv_io import CsvImportError, export_companies, export_contacts, import_contacts
from models.merge import scan_address_conflicts
from models.reassign import reassign_contacts
from models.repository import Repository, connect
from models.segments import get_segment
from models.signals import rebuild_signals

log = logging.getLogger("models")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _mapping(pairs: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        column, sep, field = pair.partition("=")
        if not sep or not column.strip():
            parser.error(f"--map takes 'Column=field', got {pair!r}")
        mapping[column.strip()] = field.strip()
    return mapping


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="import contacts from a CSV file")
    importer.add_argument("file", type=Path)
    importer.add_argument("--tenant", required=True, help="the Workspace domain whose contacts these are")
    importer.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                          help="map a column to a field or custom field (COLUMN= ignores it); repeatable")
    importer.add_argument("--owner", help="owner of imported contacts that name none")
    importer.add_argument("--region", help="country for phone numbers written without +, e.g. US")
    importer.add_argument("--dry-run", action="store_true", help="report what would happen, write nothing")
    importer.add_argument("--report", type=Path, help="also write a CSV line per row of the file here")
    exporter = commands.add_parser("export", help="export contacts or companies as CSV")
    exporter.add_argument("what", choices=("contacts", "companies"))
    exporter.add_argument("--tenant", required=True)
    exporter.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    duplicates = commands.add_parser("duplicates", help="list addresses held by two contacts (a full scan)")
    duplicates.add_argument("--tenant", required=True)
    signals = commands.add_parser("signals", help="rebuild every contact's relationship signals from its "
                                                  "activities (a full scan: after an upgrade)")
    signals.add_argument("--tenant", required=True)
    reassign = commands.add_parser("reassign", help="hand a (departed) rep's contacts to teammates; resumable: "
                                                    "run the same command again after an interruption")
    reassign.add_argument("--tenant", required=True)
    reassign.add_argument("--from", dest="from_rep", required=True, metavar="EMAIL", help="the rep who left")
    reassign.add_argument("--to", required=True, metavar="EMAIL[,EMAIL]",
                          help="one teammate, or several: the contacts go round-robin in this order")
    reassign.add_argument("--segment", metavar="ID", help="only the contacts of this saved segment")
    reassign.add_argument("--segment-owner", metavar="EMAIL", help="the rep whose saved segment --segment is")
    reassign.add_argument("--report", type=Path, help="also write contact_id,from,to per moved contact here")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = Config.from_env(env)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    client = connect(config.google_cloud_project, config.firestore_emulator_host)
    try:
        repo = Repository(client, args.tenant.strip().lower())
        if args.command == "import":
            return _import(repo, args, parser)
        if args.command == "export":
            return _export(repo, args)
        if args.command == "signals":
            print(f"rebuilt the signals of {rebuild_signals(repo)} contacts", file=sys.stderr)
            return EXIT_OK
        if args.command == "reassign":
            return _reassign(repo, args, parser)
        return _duplicates(repo)
    except ValueError as exc:  # CsvImportError and an invalid tenant name
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        client.close()


def _import(repo, args, parser) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    try:
        report = import_contacts(repo, data, mapping=_mapping(args.map, parser), owner=args.owner,
                                 region=args.region, dry_run=args.dry_run)
    except CsvImportError as exc:
        print(f"error: {args.file}: {exc}; nothing was imported", file=sys.stderr)
        return EXIT_FAILED
    for line in report.lines():
        print(line)
    if args.report:
        with args.report.open("w", newline="", encoding="utf-8") as out:
            report.write_csv(out)
    return EXIT_OK


def _export(repo, args) -> int:
    write = export_contacts if args.what == "contacts" else export_companies
    if args.output is None:
        count = write(repo, sys.stdout)
    else:
        # with a BOM: Excel then opens accented names right; our import accepts either
        with args.output.open("w", newline="", encoding="utf-8-sig") as out:
            count = write(repo, out)
    print(f"exported {count} {args.what}", file=sys.stderr)
    return EXIT_OK


def _reassign(repo, args, parser) -> int:
    segment = None
    if args.segment:
        if not args.segment_owner:
            parser.error("--segment needs --segment-owner (segments are saved per rep)")
        segment = get_segment(repo, args.segment_owner.strip().lower(), args.segment)
        if segment is None:
            print(f"error: {args.segment_owner} has no segment {args.segment}; nothing was reassigned",
                  file=sys.stderr)
            return EXIT_FAILED
    report = reassign_contacts(repo, args.from_rep, args.to.split(","), segment=segment)
    for line in report.lines():
        print(line)
    if args.report:
        with args.report.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(("contact_id", "from", "to"))
            writer.writerows(report.rows())
    return EXIT_OK


def _duplicates(repo) -> int:
    conflicts = scan_address_conflicts(repo)
    for conflict in conflicts:
        print(f"{conflict.email}: listed by {conflict.listed_by}, index points to {conflict.indexed_to or 'nobody'}")
    print(f"{len(conflicts)} address conflicts", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
