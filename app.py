"""The add-on backend's entry point: `gunicorn app:app` (see app.yaml and gunicorn.conf.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, jsonify
from werkzeug.exceptions import RequestEntityTooLarge

from config import Config
from wiring import Services

# The largest body read (413 above it). Google's events are far smaller: a user and an OAuth token (~2 KB
# each), the event context, and form inputs of which the largest is a 10,000-character note (60 KB if
# every character arrives \u-escaped); a Calendar event lists at most a few hundred attendees at ~150 bytes.
# 1 MiB is room for all of it several times over, and 100 MB bodies are refused before they are read.
MAX_EVENT_BYTES = 1024 * 1024


def create_app(config: Config | Mapping | None = None) -> Flask:
    """Build the Flask app; with no config the environment is read on first use, not at import."""
    app = Flask(__name__)
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = MAX_EVENT_BYTES
    services = Services(config, loader=lambda: Config.from_env(web=True))
    app.extensions["sidecar"] = services

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        return jsonify(error=f"the request body is over {MAX_EVENT_BYTES:,} bytes"), 413

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    _register_blueprints(app)
    logging.getLogger(__name__).debug("app created")
    return app


def _register_blueprints(app: Flask) -> None:
    """Each addon/ module is a blueprint; they register themselves through addon.init_app."""
    import addon

    addon.init_app(app)


app = create_app()
