"""The demo's web entry point: `gunicorn 'demo.wsgi:build_app()'` (python -m demo runs it).

Why a separate entry point rather than a branch in `app.py`: production runs
`gunicorn app:app`, which must never carry the preview and must read nothing at
import; here the configuration is read explicitly, when gunicorn calls the
factory, and the preview is added only if that configuration says demo mode.
"""

from __future__ import annotations

from app import create_app
from config import Config, ConfigError
from demo import preview


def build_app():
    """The add-on backend plus the card preview; refuses to start outside demo mode."""
    config = Config.from_env(web=True)
    if not config.demo:
        raise ConfigError("SIDECAR_DEMO must be 1 for demo.wsgi; production serves app:app")
    app = create_app(config)
    preview.init_app(app)
    return app
