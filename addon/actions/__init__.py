"""Card actions: `/addon/action/<name>`, routed by the ACTIONS table; an unknown name is a 400.

This module is the routing only. Handlers live by what they act on and
register themselves with `@action(name)`: `contacts` (a contact's card, forms,
fields, tags, owner, stage, notes and calls), `companies`, `merges`
(duplicates and job changes), `search` (search and an error card's Retry),
and `addon.admin` and `addon.segments`; `forms` holds what they share for
reading a card's inputs. `addon.init_app` imports every handler module.

Each handler validates what the rep typed (by `models.rules`, the rules the
CSV import and sync apply too) before it writes anything; invalid input answers
the same form again with what is wrong (and a notification), and nothing is
written.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, jsonify

from addon.context import Request, addon_endpoint

bp = Blueprint("addon_actions", __name__, url_prefix="/addon/action")

Handler = Callable[[Request], dict]
ACTIONS: dict[str, Handler] = {}
READ_ONLY: set[str] = set()  # actions that only read: they run within a trigger's time budget


def action(name: str, read_only: bool = False):
    """Register a handler; `read_only` ones are cut short like triggers (a write never is: a Retry could
    write twice, see `addon.context.within_budget`)."""
    def register(handler: Handler) -> Handler:
        ACTIONS[name] = handler
        if read_only:
            READ_ONLY.add(name)
        return handler
    return register


@bp.post("/<name>")
def dispatch(name: str):
    handler = ACTIONS.get(name)
    if handler is None:
        return jsonify(error=f"unknown action {name!r}"), 400
    return (_run_within_budget if name in READ_ONLY else _run)(handler)


@addon_endpoint("action")
def _run(req: Request, handler: Handler) -> dict:
    return handler(req)


@addon_endpoint("action", budgeted=True)
def _run_within_budget(req: Request, handler: Handler) -> dict:
    return handler(req)
