"""A deterministic sales team's Workspace, with the mess real mail has.

Same seed and anchor, same world: every random choice comes from one
``random.Random`` per concern, seeded from the seed, and ids derive from
content. The backlog is built in two phases: conversations that two reps share
(same Message-ID in both mailboxes, one event in both calendars), then each
mailbox and calendar is filled to exactly the requested size.

Messy cases covered on purpose (each is a rule in SPEC §7 that sync must get
right): display names as ``"Doe, Jane"``, quoted names, RFC 2047 encoded words
(Q and B) with accents, free-mail correspondents, subdomain senders
(``mail.acme.co.uk``), newsletters with List-Unsubscribe and Precedence: bulk,
noreply and Auto-Submitted notifications, mailing lists (List-Id), internal
threads, SPAM and DRAFT messages, meetings with external attendees, recurring
series with a cancelled occurrence, cancelled events, all-day events, a person
who changes jobs (same name, new corporate domain) and a contact who replies
from a personal address.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.quoprimime
import random
import unicodedata
from dataclasses import dataclass, field

from .world import UTC, Attendee, User, World

FIRST_NAMES = (
    "Jane", "John", "Maria", "Wei", "Aisha", "Carlos", "Emma", "Liam", "Olivia", "Noah", "Sofia", "Mateo",
    "Hannah", "Yuki", "Omar", "Grace", "Ethan", "Chloe", "Lucas", "Mia", "Daniel", "Ava", "Samuel", "Nora",
)  # fmt: skip
LAST_NAMES = (
    "Doe", "Smith", "Garcia", "Chen", "Khan", "Rossi", "Johnson", "Brown", "Nguyen", "Kowalski", "Silva",
    "Okafor", "Jensen", "Tanaka", "Haddad", "Murphy", "Schmidt", "Dubois", "Patel", "Novak", "Larsen",
)  # fmt: skip
ACCENTED_NAMES = (
    ("Renée", "Lévesque"), ("José", "Muñoz"), ("Zoë", "Brontë"), ("François", "Dupré"),
    ("Jürgen", "Müller"), ("Łukasz", "Wójcik"), ("Søren", "Kierkegård"), ("Inês", "Conceição"),
)  # fmt: skip
COMPANY_NAMES = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Wonka", "Tyrell",
    "Cyberdyne", "Soylent", "Oscorp", "Aperture", "Monarch", "Nakatomi", "Gekko", "Duff", "Prestige", "Zorg",
)  # fmt: skip
COMPANY_TLDS = ("co.uk", "com", "io", "de", "com.au", "fr", "net")
FREE_MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.co.uk", "icloud.com", "proton.me")
TITLES = ("VP Sales", "Head of Procurement", "CTO", "Operations Manager", "CFO", "IT Director", "Buyer")
NEWSLETTERS = (
    ("The SaaS Weekly", "newsletter@news.saasweekly.com", "saasweekly.com"),
    ("Revenue Digest", "digest@mail.revenuedigest.io", "revenuedigest.io"),
)
NOTIFIERS = (
    ("Calendly", "no-reply@calendly.com"),
    ("DocuSign", "noreply@docusign.net"),
    ("Google", "no-reply@accounts.google.com"),
    ("Zoom", "notifications@zoom.us"),
)
MAILING_LIST = ("Sales Leaders", "sales-leaders@googlegroups.com", "sales-leaders.googlegroups.com")
SPAMMERS = (("Prize Department", "winner@lucky-prize.biz"), ("Crypto Wins", "alert@crypto-gains.top"))
SUBJECTS = (
    "Intro: {us} x {them}", "Pricing for {them}", "Follow-up on our call", "Contract redlines",
    "Renewal options for {them}", "Demo next week?", "Security questionnaire", "Proposal v{n}",
    "Quick question about onboarding", "Next steps",
)  # fmt: skip
BODIES = (
    "Hi {to},\n\nThanks for your time today. As promised, here is a summary of what we discussed"
    " and the proposed next steps. Let me know if anything is missing.\n\nBest,\n{sender}",
    "Hello {to},\n\nCould you share the updated figures before Thursday? Our team wants to review"
    " them ahead of the meeting.\n\nThanks,\n{sender}",
    "{to} — quick one: are we still on for the demo? I'd like to bring our CTO along.\n\n{sender}",
    "Hi {to},\n\nAttached are the redlines from legal. Most changes are minor; section 7 needs"
    " a conversation.\n\nCheers,\n{sender}",
)

# Mix of one rep's own conversations (the shared ones are added first), by thread mix (gsim/README.md).
# "classic": the first generator's mix (conversations of 2-3 messages; kept for tests that count on it).
CONVERSATION_WEIGHTS = {
    "outbound": 30, "inbound": 20, "newsletter": 12, "notification": 8, "mailing_list": 6,
    "internal": 8, "freemail": 6, "spam": 4, "draft": 3,
}  # fmt: skip
# "realistic": a sales rep's mailbox, where machine mail (Gmail's Promotions, Updates, Social and Forums
# tabs) is a good share of the threads, and conversations run from one unanswered message to long negotiations.
REALISTIC_CONVERSATION_WEIGHTS = {
    "outbound": 24, "inbound": 14, "internal": 7, "freemail": 3, "newsletter": 16, "notification": 14,
    "social": 6, "mailing_list": 6, "spam": 6, "draft": 4,
}  # fmt: skip
# Messages in a person-to-person thread of the realistic mix: most 1-3, a tail of long ones.
THREAD_LENGTH_WEIGHTS = {1: 30, 2: 28, 3: 19, 4: 8, 5: 5, 6: 3, 8: 3, 12: 2, 20: 1, 30: 1}  # fmt: skip
MAILING_LIST_LENGTH_WEIGHTS = {1: 60, 2: 20, 3: 12, 5: 8}  # a question, and the list's answers
THREAD_MIXES = ("realistic", "classic")
DEFAULT_THREAD_MIX = "realistic"
SOCIAL_NETWORKS = (
    ("LinkedIn", "messages-noreply@linkedin.com", "linkedin.com"),
    ("X", "notify@x.com", "x.com"),
)
SHARED_MESSAGE_FRACTION = 0.08  # of each mailbox: threads two reps are both on
EVENT_WEIGHTS = {
    "external": 40, "hosted_by_them": 15, "internal": 15, "recurring": 8, "all_day": 7,
    "cancelled": 8, "freemail": 7,
}  # fmt: skip
SHARED_EVENT_FRACTION = 0.1
FUTURE_EVENT_DAYS = 30  # calendars hold the coming month too


@dataclass
class Person:
    first: str
    last: str
    address: str
    style: str  # how their mail client writes the From display name
    company: str | None = None
    title: str | None = None
    later_address: str | None = None  # job change: address used after the world's midpoint
    personal_address: str | None = None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first, self.last) if part)

    def mailbox(self, address: str | None = None) -> str:
        """The address as their client writes it in From/To."""
        address = address or self.address
        if self.style == "last_first":
            return f'"{self.last}, {self.first}" <{address}>'
        if self.style == "encoded_q":
            return f"{email.quoprimime.header_encode(self.name.encode(), 'UTF-8')} <{address}>"
        if self.style == "encoded_b":
            return f"=?UTF-8?B?{base64.b64encode(self.name.encode()).decode()}?= <{address}>"
        if self.style == "quoted":
            return f'"{self.name}" <{address}>'
        if self.style == "bare":
            return address
        return f"{self.name} <{address}>"


@dataclass
class Company:
    name: str
    domain: str
    mail_domain: str  # may be a subdomain such as mail.acme.co.uk
    people: list[Person] = field(default_factory=list)


@dataclass
class Spec:
    """Shape of the generated team (the CLI flags map one to one)."""

    seed: int = 1
    domain: str = "example.com"
    reps: int = 3
    companies: int = 8
    messages: int = 200  # per mailbox, exactly
    events: int = 40  # per calendar (a recurring series counts once)
    days: int = 365  # the backlog's reach into the past
    now: dt.datetime | None = None  # anchor; default: today 00:00 UTC, so a day's runs agree
    thread_mix: str = DEFAULT_THREAD_MIX  # "realistic" or "classic" (gsim/README.md)

    def __post_init__(self):
        if self.thread_mix not in THREAD_MIXES:
            raise ValueError(f"thread_mix must be one of {', '.join(THREAD_MIXES)}, got {self.thread_mix!r}")


@dataclass
class _Draft:
    when: dt.datetime
    conversation: str
    sender: str
    to: list[str]
    cc: list[str]
    subject: str
    body: str
    labels: list[str]
    message_id: str
    extra: list[tuple[str, str]]


class Generator:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.now = spec.now or dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.rng = random.Random(spec.seed)
        self.world = World(spec.domain, self.now)
        self.drafts: dict[str, list[_Draft]] = {}
        self._conversations = 0

    # -- people -------------------------------------------------------------
    def _person(self, rng: random.Random, domain: str, company: str | None, index: int) -> Person:
        if index % 5 == 3:
            first, last = rng.choice(ACCENTED_NAMES)
            style = "encoded_q" if index % 2 else "encoded_b"
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            style = ("plain", "last_first", "quoted", "bare", "plain")[index % 5]
        local = (f"{first}.{last}", f"{first[0]}{last}", first)[index % 3]
        local = ascii_fold(local.lower()) or "contact"
        local = "".join(ch for ch in local if ch.isalnum() or ch == ".")
        return Person(first, last, f"{local}{index if index > 4 else ''}@{domain}", style, company, rng.choice(TITLES))

    def build_team(self) -> None:
        rng = random.Random(f"{self.spec.seed}:team")
        domain = self.spec.domain
        self.reps: list[Person] = []
        used = set()
        for index in range(self.spec.reps):
            for _ in range(NAME_TRIES):
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                if (first, last) not in used:
                    break
            suffix = "" if (first, last) not in used else str(index)  # past the name pairs: a numbered twin
            used.add((first, last))
            self.reps.append(
                Person(first, last, f"{first}.{last}{suffix}@{domain}".lower(), "plain", None, "Account Executive")
            )
        self.colleagues = [
            Person("Priya", "Shah", f"priya.shah@{domain}", "plain", None, "Sales Engineer"),
            Person("Tom", "Becker", f"tom.becker@{domain}", "plain", None, "Finance"),
        ]
        self.admin = Person("Alex", "Admin", f"admin@{domain}", "plain", None, "IT Admin")
        for person in [self.admin, *self.reps, *self.colleagues]:
            self.world.add_user(
                User(person.address, person.first, person.last, is_admin=person is self.admin, title=person.title)
            )
        self.drafts = {rep.address: [] for rep in self.reps}

        rng = random.Random(f"{self.spec.seed}:companies")
        self.companies: list[Company] = []
        for i in range(max(self.spec.companies, 3)):
            base = COMPANY_NAMES[i % len(COMPANY_NAMES)]
            name = base if i < len(COMPANY_NAMES) else f"{base} {i // len(COMPANY_NAMES) + 1}"
            slug = name.lower().replace(" ", "")
            company_domain = f"{slug}.{COMPANY_TLDS[i % len(COMPANY_TLDS)]}"
            mail_domain = f"mail.{company_domain}" if i % 4 == 0 else company_domain
            company = Company(name, company_domain, mail_domain)
            for j in range(rng.randint(2, 5)):
                company.people.append(self._person(rng, mail_domain, name, j + i))
            self.companies.append(company)
        # The job changer: same display name, first at companies[0], later at companies[1].
        mover = self.companies[0].people[0]
        mover.later_address = f"{mover.first}.{mover.last}@{self.companies[1].domain}".lower()
        self.mover = mover
        # The contact who answers from a personal mailbox.
        replier = self.companies[2].people[0]
        replier.personal_address = f"{replier.first}.{replier.last}.home@gmail.com".lower()
        self.personal_replier = replier
        self.freemail_people = [
            self._person(rng, FREE_MAIL_DOMAINS[i % len(FREE_MAIL_DOMAINS)], None, 20 + i) for i in range(4)
        ]

    # -- mail -----------------------------------------------------------------
    def _when(self, rng: random.Random) -> dt.datetime:
        seconds = rng.randrange(int(dt.timedelta(days=self.spec.days).total_seconds()) - 86400)
        return self.now - dt.timedelta(days=self.spec.days) + dt.timedelta(seconds=seconds)

    def _message_id(self, rng: random.Random, domain: str) -> str:
        return f"<{rng.getrandbits(64):016x}.{self._conversations}@{domain}>"

    def _address_at(self, person: Person, when: dt.datetime) -> str:
        if person.later_address and when > self.now - dt.timedelta(days=self.spec.days // 2):
            return person.later_address
        return person.address

    def _thread(
        self,
        rng: random.Random,
        holders: list[str],
        turns: list[tuple[Person, list[Person], list[Person]]],
        subject: str,
        start: dt.datetime,
        extra: list[tuple[str, str]] = (),
        labels: list[str] | None = None,
        from_address: dict[int, str] | None = None,
    ) -> int:
        """Add a conversation (each turn: sender, to, cc) to every holder's drafts."""
        self._conversations += 1
        key = f"c{self._conversations}"
        when, references = start, []
        for index, (sender, to, cc) in enumerate(turns):
            when = min(when + dt.timedelta(minutes=rng.randint(20, 60 * 30)) if index else when, self.now)
            sender_address = (from_address or {}).get(index) or self._address_at(sender, when)
            message_id = self._message_id(rng, sender_address.split("@")[1])
            headers = list(extra)
            if references:
                headers += [("In-Reply-To", references[-1]), ("References", " ".join(references))]
            references.append(message_id)
            body = rng.choice(BODIES).format(to=to[0].first if to else "team", sender=sender.first)
            for holder in holders:
                if holder not in self.drafts:
                    continue
                if labels is not None:
                    box_labels = list(labels)
                elif holder == sender.address:
                    box_labels = ["SENT"]
                else:
                    box_labels = ["INBOX", "CATEGORY_PERSONAL"] + (["UNREAD"] if rng.random() < 0.3 else [])
                    if rng.random() < 0.2:
                        box_labels.append("IMPORTANT")
                self.drafts[holder].append(
                    _Draft(
                        when,
                        key,
                        sender.mailbox(sender_address),
                        [p.mailbox(self._address_at(p, when)) for p in to],
                        [p.mailbox(self._address_at(p, when)) for p in cc],
                        ("Re: " if index else "") + subject,
                        body,
                        box_labels,
                        message_id,
                        headers,
                    )
                )
        return len(turns)

    def _subject(self, rng: random.Random, company: Company) -> str:
        us = self.spec.domain.split(".")[0].title()
        return rng.choice(SUBJECTS).format(us=us, them=company.name, n=rng.randint(2, 5))

    def _shared_threads(self) -> None:
        rng = random.Random(f"{self.spec.seed}:shared")
        per_pair = max(1, int(self.spec.messages * SHARED_MESSAGE_FRACTION / 2))
        for a, b in zip(self.reps, self.reps[1:], strict=False):
            made = 0
            while made < per_pair:
                company = rng.choice(self.companies)
                contact = rng.choice(company.people)
                start = self._when(rng)
                if rng.random() < 0.6:  # a buyer writes to rep A with rep B in copy; A answers all
                    turns = [(contact, [a], [b]), (a, [contact], [b])]
                    made += self._thread(rng, [a.address, b.address], turns, self._subject(rng, company), start)
                else:  # internal-only thread between the two reps
                    turns = [(a, [b], []), (b, [a], [])]
                    made += self._thread(rng, [a.address, b.address], turns, f"Account plan: {company.name}", start)

    def _special_threads(self) -> None:
        """The job changer (before and after the move) and the personal-address reply."""
        rng = random.Random(f"{self.spec.seed}:special")
        rep = self.reps[0]
        half = self.now - dt.timedelta(days=self.spec.days // 2)
        for when in (half - dt.timedelta(days=40), half + dt.timedelta(days=20)):
            company = self.companies[0] if when < half else self.companies[1]
            turns = [(self.mover, [rep], []), (rep, [self.mover], [])]
            self._thread(rng, [rep.address], turns, self._subject(rng, company), when)
        replier = self.personal_replier
        turns = [(rep, [replier], []), (replier, [rep], [])]
        if self.spec.thread_mix == "realistic":  # their work address writes first: the case holds at any size
            turns.insert(0, (replier, [rep], []))
        start = self.now - dt.timedelta(days=10)
        self._thread(
            rng,
            [rep.address],
            turns,
            self._subject(rng, self.companies[2]),
            start,
            from_address={len(turns) - 1: replier.personal_address},
        )

    def _own_conversation(self, rng: random.Random, rep: Person, kind: str) -> None:
        if self.spec.thread_mix == "realistic":
            self._realistic_conversation(rng, rep, kind)
            return
        company = rng.choice(self.companies)
        contact = rng.choice(company.people)
        start = self._when(rng)
        holders = [rep.address]
        if kind == "outbound":
            cc = [p for p in company.people if p is not contact][:1] if rng.random() < 0.3 else []
            turns = [(rep, [contact], cc), (contact, [rep], cc)]
            if rng.random() < 0.5:
                turns.append((rep, [contact], cc))
            self._thread(rng, holders, turns, self._subject(rng, company), start)
        elif kind == "inbound":
            self._thread(rng, holders, [(contact, [rep], []), (rep, [contact], [])], self._subject(rng, company), start)
        elif kind == "freemail":
            person = rng.choice(self.freemail_people)
            self._thread(rng, holders, [(person, [rep], []), (rep, [person], [])], "Question about your product", start)
        elif kind == "internal":
            colleague = rng.choice(self.colleagues)
            self._thread(
                rng, holders, [(rep, [colleague], []), (colleague, [rep], [])], f"Deal desk: {company.name}", start
            )
        elif kind == "draft":
            self._thread(rng, holders, [(rep, [contact], [])], self._subject(rng, company), start, labels=["DRAFT"])
        else:
            self._bulk(rng, rep, kind, start)

    def _realistic_conversation(self, rng: random.Random, rep: Person, kind: str) -> None:
        """A conversation of the realistic mix: person-to-person threads of 1 to 30 messages (answers
        alternate), machine mail in its Gmail category, one message a thread."""
        company = rng.choice(self.companies)
        contact = rng.choice(company.people)
        start = self._when(rng)
        holders = [rep.address]
        lengths, length_weights = zip(*THREAD_LENGTH_WEIGHTS.items(), strict=True)
        length = rng.choices(lengths, length_weights)[0]
        if kind in ("outbound", "inbound"):
            cc = [p for p in company.people if p is not contact][:1] if rng.random() < 0.3 else []
            first, second = (rep, contact) if kind == "outbound" else (contact, rep)
            self._thread(rng, holders, _alternating(first, second, cc, length), self._subject(rng, company), start)
        elif kind == "freemail":
            person = rng.choice(self.freemail_people)
            self._thread(rng, holders, _alternating(person, rep, [], length), "Question about your product", start)
        elif kind == "internal":
            colleague = rng.choice(self.colleagues)
            self._thread(rng, holders, _alternating(rep, colleague, [], length), f"Deal desk: {company.name}", start)
        elif kind == "draft":
            self._thread(rng, holders, [(rep, [contact], [])], self._subject(rng, company), start, labels=["DRAFT"])
        elif kind == "social":
            name, address, site = rng.choice(SOCIAL_NETWORKS)
            sender = Person(name, "", address, "quoted")
            extra = [("List-Unsubscribe", f"<https://www.{site}/e/unsubscribe/{rng.getrandbits(32):x}>"),
                     ("Auto-Submitted", "auto-generated")]
            subject = f"{contact.name} sent you a message on {name}"
            self._thread(rng, holders, [(sender, [rep], [])], subject, start, extra, ["INBOX", "CATEGORY_SOCIAL"])
        elif kind == "mailing_list":
            sizes, size_weights = zip(*MAILING_LIST_LENGTH_WEIGHTS.items(), strict=True)
            posts = rng.choices(sizes, size_weights)[0]
            list_name, list_address, list_id = MAILING_LIST
            extra = [("List-Id", f"{list_name} <{list_id}>"), ("Sender", list_address), ("Precedence", "list")]
            rep_list = Person(list_name, "", list_address, "quoted")
            turns = [(rng.choice(self.freemail_people), [rep_list], []) for _ in range(posts)]
            subject = f"[{list_name}] How do you forecast Q{rng.randint(1, 4)}?"
            self._thread(rng, holders, turns, subject, start, extra, ["INBOX", "CATEGORY_FORUMS"])
        else:
            self._bulk(rng, rep, kind, start)

    def _bulk(self, rng: random.Random, rep: Person, kind: str, start: dt.datetime) -> None:
        if kind == "newsletter":
            name, address, site = rng.choice(NEWSLETTERS)
            sender = Person(name, "", address, "quoted")
            extra = [
                (
                    "List-Unsubscribe",
                    f"<mailto:unsubscribe@{site}?subject=unsubscribe>, <https://{site}/u/{rng.getrandbits(32):x}>",
                ),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                ("Precedence", "bulk"),
            ]
            labels, subject = ["INBOX", "CATEGORY_PROMOTIONS", "UNREAD"], f"{name}: this week in revenue"
        elif kind == "notification":
            name, address = rng.choice(NOTIFIERS)
            sender = Person(name, "", address, "plain")
            extra = [("Auto-Submitted", "auto-generated")]
            labels, subject = ["INBOX", "CATEGORY_UPDATES"], f"{name}: activity on your account"
        elif kind == "mailing_list":
            sender = rng.choice(self.freemail_people)
            list_name, list_address, list_id = MAILING_LIST
            extra = [("List-Id", f"{list_name} <{list_id}>"), ("Sender", list_address), ("Precedence", "list")]
            labels, subject = ["INBOX", "CATEGORY_FORUMS"], f"[{list_name}] How do you forecast Q{rng.randint(1, 4)}?"
            rep_list = Person(list_name, "", list_address, "quoted")
            self._thread(rng, [rep.address], [(sender, [rep_list], [])], subject, start, extra, labels)
            return
        else:  # spam
            name, address = rng.choice(SPAMMERS)
            sender = Person(name, "", address, "quoted")
            extra, labels, subject = [], ["SPAM"], "You have been selected!!!"
        self._thread(rng, [rep.address], [(sender, [rep], [])], subject, start, extra, labels)

    def _fill_mailboxes(self) -> None:
        mix = REALISTIC_CONVERSATION_WEIGHTS if self.spec.thread_mix == "realistic" else CONVERSATION_WEIGHTS
        kinds, weights = zip(*mix.items(), strict=False)
        for index, rep in enumerate(self.reps):
            rng = random.Random(f"{self.spec.seed}:mail:{index}")
            made = 0
            while len(self.drafts[rep.address]) < self.spec.messages:
                # Every kind at least once, so even a tiny mailbox has each messy case.
                kind = kinds[made] if made < len(kinds) else rng.choices(kinds, weights)[0]
                self._own_conversation(rng, rep, kind)
                made += 1
            # Trim the overshoot of the last conversation, keeping the earlier turns.
            del self.drafts[rep.address][self.spec.messages :]

    def _deliver(self) -> None:
        for address, drafts in self.drafts.items():
            drafts.sort(key=lambda d: (d.when, d.message_id))
            threads: dict[str, str] = {}
            for draft in drafts:
                message = self.world.add_message(
                    address,
                    sender=draft.sender,
                    to=draft.to,
                    cc=draft.cc,
                    subject=draft.subject,
                    body=draft.body,
                    date=draft.when,
                    label_ids=draft.labels,
                    message_id_header=draft.message_id,
                    thread_id=threads.get(draft.conversation),
                    extra_headers=draft.extra,
                    record_history=False,
                )
                threads.setdefault(draft.conversation, message.id)
        self.drafts = {}

    # -- calendar ---------------------------------------------------------------
    def _slot(self, rng: random.Random) -> tuple[dt.datetime, dt.datetime]:
        day = (
            self.now
            - dt.timedelta(days=self.spec.days)
            + dt.timedelta(days=rng.randrange(self.spec.days + FUTURE_EVENT_DAYS))
        )
        start = day.replace(hour=rng.randint(8, 16), minute=rng.choice((0, 30)))
        return start, start + dt.timedelta(minutes=rng.choice((30, 45, 60)))

    def _attendee(self, rng: random.Random, person: Person, when: dt.datetime) -> Attendee:
        status = rng.choice(("accepted", "accepted", "tentative", "declined", "needsAction"))
        return Attendee(self._address_at(person, when), person.name if rng.random() < 0.7 else None, status)

    def _event(self, rng: random.Random, organizer: Person, kind: str, extra_reps: list[Person] = ()) -> int:
        company = rng.choice(self.companies)
        start, end = self._slot(rng)
        created = min(start - dt.timedelta(days=rng.randint(1, 20)), self.now)
        attendees = [Attendee(r.address, r.name, "accepted") for r in extra_reps]
        kwargs = {}
        if kind in ("external", "cancelled"):
            attendees += [
                self._attendee(rng, p, start)
                for p in rng.sample(company.people, rng.randint(1, min(3, len(company.people))))
            ]
            topic = rng.choice(("discovery", "demo", "pricing review", "QBR"))
            summary = f"{company.name} / {self.spec.domain.split('.')[0].title()}: {topic}"
        elif kind == "hosted_by_them":
            host = rng.choice(company.people)
            event = self.world.add_event(
                self._address_at(host, start), summary=f"{company.name} vendor review", start=start, end=end,
                organizer_name=host.name, attendees=[Attendee(organizer.address, organizer.name, "accepted")],
                created=created, location="https://meet.google.com/abc-defg-hij",
            )  # fmt: skip
            return 1 if event else 0
        elif kind == "freemail":
            attendees.append(self._attendee(rng, rng.choice(self.freemail_people), start))
            summary = "Intro call"
        elif kind == "recurring":
            person = rng.choice(company.people + self.colleagues)
            attendees.append(self._attendee(rng, person, start))
            summary = f"Weekly sync: {person.name}"
            count = rng.randint(6, 12)
            start = start - dt.timedelta(weeks=count // 2)
            end = start + dt.timedelta(minutes=30)
            kwargs["recurrence"] = [f"RRULE:FREQ=WEEKLY;COUNT={count}"]
            created = min(start - dt.timedelta(days=2), self.now)
        elif kind == "all_day":
            day = start.date()
            start, end = day, day + dt.timedelta(days=rng.randint(1, 3))
            summary = rng.choice(("SaaStr conference", "Out of office", "Sales kickoff"))
        else:  # internal
            attendees.append(self._attendee(rng, rng.choice(self.colleagues), start))
            summary = "Pipeline review"
        event = self.world.add_event(
            organizer.address, summary=summary, start=start, end=end, organizer_name=organizer.name,
            attendees=[Attendee(organizer.address, organizer.name, "accepted"), *attendees],
            created=created, description=f"Agenda for {company.name}." if rng.random() < 0.5 else None, **kwargs,
        )  # fmt: skip
        if kind == "cancelled":
            event.status = "cancelled"
        if kind == "recurring" and rng.random() < 0.5:
            starts = event.instance_starts()
            skipped = starts[rng.randrange(len(starts))]
            event.cancelled_instances[event.instance_id(skipped)] = created
            for calendar in self.world.calendars_of(event):
                calendar.touch(event.instance_id(skipped))
        return 1

    def _fill_calendars(self) -> None:
        rng = random.Random(f"{self.spec.seed}:shared-events")
        counts = {rep.address: 0 for rep in self.reps}
        for a, b in zip(self.reps, self.reps[1:], strict=False):
            for _ in range(max(1, int(self.spec.events * SHARED_EVENT_FRACTION))):
                self._event(rng, a, "external", [b])
                counts[a.address] += 1
                counts[b.address] += 1
        kinds, weights = zip(*EVENT_WEIGHTS.items(), strict=False)
        for index, rep in enumerate(self.reps):
            rng = random.Random(f"{self.spec.seed}:events:{index}")
            made = 0
            while counts[rep.address] < self.spec.events:
                kind = kinds[made] if made < len(kinds) else rng.choices(kinds, weights)[0]
                counts[rep.address] += self._event(rng, rep, kind)
                made += 1

    def build(self) -> World:
        self.build_team()
        self._shared_threads()
        self._special_threads()
        self._fill_mailboxes()
        self._deliver()
        self._fill_calendars()
        self.world.reps = [rep.address for rep in self.reps]
        self.world.admin = self.admin.address
        return self.world


def _alternating(first: Person, second: Person, cc: list[Person], length: int):
    """The turns of a two-person thread: first writes, second answers, and so on."""
    return [((first, [second], cc) if index % 2 == 0 else (second, [first], cc)) for index in range(length)]


def generate(spec: Spec) -> World:
    """Build the world a spec describes (deterministic for a seed and anchor)."""
    return Generator(spec).build()


ASCII_FALLBACKS = str.maketrans({"ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "đ": "d"})


NAME_TRIES = 200  # draws for an unused first/last pair before a rep gets a numbered address (big worlds)


def ascii_fold(text: str) -> str:
    """What people do with accents in a mailbox name: René -> rene, Łukasz -> lukasz."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(ASCII_FALLBACKS))
    return decomposed.encode("ascii", "ignore").decode()
