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


def action(name: str):
    def register(handler: Handler) -> Handler:
        ACTIONS[name] = handler
        return handler
    return register


@bp.post("/<name>")
def dispatch(name: str):
    handler = ACTIONS.get(name)
    if handler is None:
        return jsonify(error=f"unknown action {name!r}"), 400
    return _run(handler)


@addon_endpoint("action")
def _run(req: Request, handler: Handler) -> dict:
    return handler(req)
