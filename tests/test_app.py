"""The app can be imported without side effects and built from an explicit config."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from app import create_app

ROOT = Path(__file__).resolve().parents[1]

IMPORT_EVERYTHING = textwrap.dedent("""
    import importlib, pkgutil, sys

    def refuse(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "subprocess.Popen"):
            raise RuntimeError(f"import side effect: {event} {args!r}")

    sys.addaudithook(refuse)
    import app, config, bootstrap
    for package in ("models", "cards", "addon", "sync"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    print("imported", len(sys.modules))
""")


def test_importing_every_package_connects_to_nothing_and_reads_no_variable():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIDECAR_", "GOOGLE_", "FIRESTORE_"))}
    result = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported")


def test_an_explicit_config_needs_no_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("SIDECAR_", "GOOGLE_", "FIRESTORE_")):
            monkeypatch.delenv(name)
    app = create_app({"google_cloud_project": "demo", "public_url": "https://sidecar.example.com"})
    assert app.extensions["sidecar"].config.public_url == "https://sidecar.example.com"
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
