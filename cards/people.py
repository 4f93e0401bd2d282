"""Who a card shows and who it is shown to: the inputs every card builder shares.

`Person` is one participant as the add-on assembled them for a card (contact,
company, a page of the team's timeline, likely twins); `Viewer` is the rep
looking, with what decides how things are shown to them (the tenant's
settings, the action base URL, their time zone). Both are card notions, not
domain ones: a Person is a view of domain objects gathered for one surface,
and a Viewer carries the card's action URL, so they live beside the card
builders rather than in `models/`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from cards.timeline import FORMER_TEAMMATE
from cards.widgets import action
from models.domain import Company, Contact, Settings, TimelineEntry


@dataclasses.dataclass
class Person:
    """One participant as the card shows them: a contact with their data, or an unknown address."""

    email: str
    display_name: str = ""
    contact: Contact | None = None
    company: Company | None = None
    entries: list[TimelineEntry] = dataclasses.field(default_factory=list)
    next_cursor: str | None = None
    # likely twins, (contact, reason, score) as models.merge.find_duplicates gives them; the contact card only
    duplicates: list[tuple[Contact, str, float]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Viewer:
    """Who is looking, and how to show it to them."""

    rep: str
    settings: Settings
    actions: str  # action base URL, ends with "/addon/action/"
    tz: dt.tzinfo = dt.UTC
    importing: int | None = None  # percent of the rep's own history imported so far; None when done (models.progress)

    def act(self, action_name: str, /, **parameters: object) -> dict[str, Any]:
        return action(self.actions + action_name, parameters)

    def teammate(self, rep: str) -> str:
        """How a card names a rep: by name when sync learnt it (`Settings.rep_name`); a departed one says so,
        with the address, so no card points at someone who left ("Ann Lee · ann@x.com (former teammate)")."""
        name = self.settings.rep_names.get(rep)
        if rep in self.settings.departed_reps:
            return f"{name} · {rep} {FORMER_TEAMMATE}" if name else f"{rep} {FORMER_TEAMMATE}"
        return name or rep
