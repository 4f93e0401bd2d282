"""The add-on's HTTP surface: Flask blueprints for Google's add-on events and card actions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every add-on blueprint on the app: the triggers and the card actions."""
    from addon import actions, admin, segments, triggers  # noqa: F401 - admin, segments register actions
    from addon.actions import companies, contacts, merges, rep_privacy, search  # noqa: F401 - each registers its actions

    app.register_blueprint(triggers.bp)
    app.register_blueprint(actions.bp)
    from addon import push  # issue 14: Calendar channel (and Gmail push) notifications

    app.register_blueprint(push.bp)
