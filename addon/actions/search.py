"""Search from the home page, and the Retry of an error card a trigger showed."""

from __future__ import annotations

from addon.actions import action
from addon.actions.forms import invalid, text
from addon.context import Request
from addon.events import BadEvent
from addon.triggers import VIEWS
from cards import responses
from cards.home import results_card
from models.search import SearchHit

SEARCH_MIN, SEARCH_MAX = 2, 100  # characters of a search
SEARCH_RESULTS = 20
SEARCH_NOTE = f"Matches the start of names, addresses and company domains; {SEARCH_RESULTS} results at most."


@action("refresh", read_only=True)
def refresh(req: Request) -> dict:
    """The Retry of an error card shown by a trigger: the trigger's card, as an update, within the
    trigger's time budget (its reads can be as slow as the trigger's were)."""
    view = VIEWS.get(req.event.parameter("view"))
    if view is None:
        raise BadEvent("unknown view")
    return responses.update_card(view(req))


@action("search")
def search(req: Request) -> dict:
    """Exact address first (one get), then the prefix index (one read): contacts and companies."""
    query = " ".join(text(req, "query").split())
    if not SEARCH_MIN <= len(query) <= SEARCH_MAX:
        message = f"Type {SEARCH_MIN} to {SEARCH_MAX} characters to search."
        return invalid(results_card(query, [], req.viewer, error=message), message)
    hits: list[SearchHit] = []
    if "@" in query:
        found = req.repo.find_contact_by_email(query)
        if found:
            hits.append(SearchHit("contact", found.id, found.display_name, found.company_id or found.primary_email))
    hits += [hit for hit in req.repo.search(query, SEARCH_RESULTS) if hit not in hits]
    card = results_card(query, hits[:SEARCH_RESULTS], req.viewer, note=SEARCH_NOTE)
    return responses.update_card(card) if req.event.parameters.get("replace") else responses.push_card(card)
