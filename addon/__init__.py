"""The add-on's HTTP surface: Flask blueprints for Google's add-on events and card actions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every add-on blueprint on the app (none yet: the add-on issue builds them)."""
