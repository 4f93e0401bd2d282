"""The labelled corpus of messy mail (corpus_messy_mail.txt): parsed cases, and seeding them into the simulator."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from email.utils import parseaddr
from pathlib import Path

from gsim.world import Attendee

CORPUS = Path(__file__).with_name("corpus_messy_mail.txt")
CHANNELS = ("to", "from", "cc", "bcc", "org", "att")
MEETING_MINUTES = 30


@dataclasses.dataclass(frozen=True)
class Expected:
    first: str
    middle: str
    last: str
    company: str | None  # None: free mail


@dataclasses.dataclass(frozen=True)
class Case:
    line: int
    family: str
    channel: str
    headers: tuple[str, ...]  # one message or meeting each
    address: str  # the stored address every header must land on
    expected: Expected | None  # None: no contact


def load_cases(path: Path = CORPUS) -> list[Case]:
    """`family | channel | header | expected` a line (see the file's header); comments and blanks skipped."""
    cases = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split(" | ")
        family, channel, expected = parts[0].strip(), parts[1].strip(), parts[-1].strip()
        header = " | ".join(parts[2:-1]).strip()
        if channel not in CHANNELS or not header:
            raise ValueError(f"{path.name}:{number}: cannot read {raw!r}")
        header, _, stored = header.partition(" => ")
        headers = tuple(h.strip() for h in header.split(" ;; "))
        address = stored.strip() or _address_in(headers[0])
        cases.append(Case(number, family, channel, headers, address, _expected(expected)))
    return cases


def _address_in(header: str) -> str:
    angle = re.findall(r"<([^<>]+@[^<>]+)>\s*$", header)
    if angle:
        return angle[-1].strip().lower()
    return next(word for word in header.split() if "@" in word).strip("<>").lower()


def _expected(text: str) -> Expected | None:
    if text == "-":
        return None
    fields = [f.strip() for f in text.split(" / ")]
    if len(fields) == 3:
        fields.insert(1, "")
    first, middle, last, company = fields
    return Expected(first, middle, last, None if company == "~" else company)


def seed(sim, cases: list[Case], rep: str, teammate: str, now: dt.datetime) -> int:
    """One message or meeting per header of each case, a minute apart, in rep's mailbox and calendar."""
    made = 0
    for index, case in enumerate(cases):
        for header in case.headers:
            when = now - dt.timedelta(days=30, minutes=len(cases) * 2 - (index * 2 + made % 2))
            subject = f"Corpus case {case.line}"
            if case.channel == "to":
                sim.add_message(rep, sender=rep, to=[header], subject=subject, date=when)
            elif case.channel == "from":
                sim.add_message(rep, sender=header, to=[rep], subject=subject, date=when)
            elif case.channel == "cc":
                sim.add_message(rep, sender=rep, to=[teammate], cc=[header], subject=subject, date=when)
            elif case.channel == "bcc":
                sim.add_message(rep, sender=rep, to=[teammate], subject=subject, date=when,
                                extra_headers=[("Bcc", header)])
            else:
                name, email = parseaddr(header)
                end = when + dt.timedelta(minutes=MEETING_MINUTES)
                if case.channel == "org":
                    sim.add_event(email, summary=subject, start=when, end=end, organizer_name=name or None,
                                  attendees=[Attendee(rep, None, "accepted")])
                else:
                    sim.add_event(rep, summary=subject, start=when, end=end,
                                  attendees=[Attendee(email, name or None, "accepted")])
            made += 1
    return made
