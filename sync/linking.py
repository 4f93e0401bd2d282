"""Linking rules (SPEC §7): who is on the team, who may become a contact, and how an item is described.

An `Item` is one message or meeting as one mailbox sees it, already reduced to
what Sidecar stores (no body, ever). `Team` answers the questions the rules
ask of an address; the address facts themselves (free mail, role addresses,
registrable domains, names) live in `models.addresses`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from models.addresses import is_excluded, is_internal, is_role_address, named_addresses
from models.domain import AUTO_CREATE_POLICIES, INBOUND, INTERNAL, OUTBOUND, ActivityKind, Participant, Settings

SENDER_ROLES = ("from", "organizer")


@dataclasses.dataclass
class Item:
    """One email or meeting as one mailbox holds it."""

    external_key: str  # Message-ID header, or iCalUID|start
    activity_id: str
    kind: str  # email or meeting
    held_id: str  # the Gmail message id or Calendar event id in this mailbox
    at: dt.datetime
    subject: str = ""
    snippet: str = ""
    participants: list[Participant] = dataclasses.field(default_factory=list)
    end_at: dt.datetime | None = None
    bulk: bool = False  # mailing list, newsletter, auto-submitted
    declined: frozenset[str] = frozenset()  # attendees who declined (not "met with")
    utc_offset: int | None = None  # an email's Date header offset, minutes east of UTC (models.signals)
    evidence: str = ""  # an email's sender, Date header and subject, digested (`sync.gmail.message_evidence`)
    # the address headers (or attendee addresses) as written: exclusions check every address they name,
    # the ones parsing dropped (`pät@…`, a trailing dot) too (`Team.excludes`)
    address_text: tuple[str, ...] = ()
    private: bool = False  # a private Calendar event: stored without title or names (models.rep_privacy)

    @property
    def sender(self) -> str | None:
        return next((p.email for p in self.participants if p.role in SENDER_ROLES), None)


class Team:
    """A tenant's view of addresses: its own domains, its exclusions, its auto-create policy.

    Its answers depend only on the address and the settings read at the start
    of the run (exclusions: re-read before each group of messages is stored, see
    `update_exclusions`), so each is computed once per address per run: a mailbox names
    the same few hundred people thousands of times, and parsing an address is
    what a full sync spent most of its Python time on. (Dict reads and writes
    are atomic under the GIL, so mailbox threads share the caches safely.)
    """

    def __init__(self, tenant: str, settings: Settings):
        self.domains = [tenant, *settings.internal_domains]
        self.exclusions = list(settings.exclusions)
        policy = settings.auto_create
        self.policy = policy if policy in AUTO_CREATE_POLICIES else "outbound"
        self._internal: dict[str, bool] = {}
        self._excluded: dict[str, bool] = {}
        self._excluded_text: dict[str, bool] = {}
        self._role: dict[str, bool] = {}

    def update_exclusions(self, exclusions: list[str]) -> None:
        """An admin may add an exclusion while a run is under way: from the next group on, it holds."""
        if list(exclusions) != self.exclusions:
            self._excluded, self._excluded_text = {}, {}
            self.exclusions = list(exclusions)

    def is_internal(self, email: str) -> bool:
        known = self._internal.get(email)
        if known is None:
            known = self._internal[email] = is_internal(email, self.domains)
        return known

    def is_excluded(self, email: str) -> bool:
        if not self.exclusions:
            return False
        known = self._excluded.get(email)
        if known is None:
            known = self._excluded[email] = is_excluded(email, self.exclusions)
        return known

    def is_role(self, email: str) -> bool:
        known = self._role.get(email)
        if known is None:
            known = self._role[email] = is_role_address(email)
        return known

    def excludes(self, item: Item) -> bool:
        """Mail or meetings naming an excluded address or domain, parseable or not, are never stored (SPEC §9)."""
        if not self.exclusions:
            return False
        return (any(self.is_excluded(p.email) for p in item.participants)
                or any(self._names_excluded(text) for text in item.address_text))

    def _names_excluded(self, text: str) -> bool:
        known = self._excluded_text.get(text)
        if known is None:
            known = self._excluded_text[text] = any(self.is_excluded(a) for a in named_addresses(text))
        return known

    def external(self, item: Item) -> list[Participant]:
        return self.external_participants(item.participants)

    def external_participants(self, participants: list[Participant]) -> list[Participant]:
        return [p for p in participants if not self.is_internal(p.email)]

    def arrange(self, item: Item) -> None:
        self.arrange_participants(item.participants)

    def arrange_participants(self, participants: list[Participant]) -> None:
        """External participants first (header order kept), so a timeline row's counterpart is a person
        outside the team whichever mailbox wrote the row."""
        participants.sort(key=lambda p: self.is_internal(p.email))

    def direction_of(self, participants: list[Participant], kind: str = ActivityKind.EMAIL) -> str:
        """The team's view, the same from every holder: internal if no outsider is on it, outbound
        if someone on the team sent or organised it, inbound otherwise."""
        if all(self.is_internal(p.email) for p in participants):
            return INTERNAL
        sender = next((p.email for p in participants if p.role in SENDER_ROLES), None)
        return OUTBOUND if sender and self.is_internal(sender) else INBOUND

    def creatable(self, item: Item) -> list[Participant]:
        """Participants the policy makes contacts of when no contact holds their address yet.

        Default ("outbound"): people the team wrote to or met with; "all" adds
        people who only wrote to the team; "none": nobody. Never the team,
        role or no-reply addresses, bulk mail or excluded addresses.
        """
        if self.policy == "none" or item.bulk:
            return []
        team_sent = bool(item.sender) and self.is_internal(item.sender)
        people = []
        for participant in self.external(item):
            if self.is_role(participant.email) or participant.email in item.declined:
                continue
            if self.is_excluded(participant.email):
                continue
            if (item.kind == ActivityKind.MEETING or self.policy == "all"
                    or (team_sent and participant.role not in SENDER_ROLES)):
                people.append(participant)
        return people
