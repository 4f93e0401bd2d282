"""The add-on backend's entry point: `gunicorn app:app` (see app.yaml and gunicorn.conf.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, jsonify

from config import Config
from wiring import Services


def create_app(config: Config | Mapping | None = None) -> Flask:
    """Build the Flask app; with no config the environment is read on first use, not at import."""
    app = Flask(__name__)
    app.json.sort_keys = False
    services = Services(config, loader=lambda: Config.from_env(web=True))
    app.extensions["sidecar"] = services

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
