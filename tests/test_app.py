"""The app can be imported without side effects and built from an explicit config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from app import create_app

ROOT = Path(__file__).resolve().parents[1]

# Every variable Sidecar reads (config.py): its own SIDECAR_* and the three standard ones.
STANDARD_VARIABLES = ("GOOGLE_CLOUD_PROJECT", "FIRESTORE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS")

IMPORT_EVERYTHING = textwrap.dedent("""
    import collections.abc, importlib, json, os, pkgutil, sys

    def refuse(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "subprocess.Popen"):
            raise RuntimeError(f"import side effect: {event} {args!r}")

    read = []

    class Watched(collections.abc.MutableMapping):
        \"\"\"os.environ, noting every name looked up ("*" for a read of the whole environment).\"\"\"

        def __init__(self, real):
            self.real = real
        def __getitem__(self, name):
            read.append(name)
            return self.real[name]
        def __contains__(self, name):
            read.append(name)
            return name in self.real
        def __iter__(self):
            read.append("*")
            return iter(self.real)
        def __len__(self):
            return len(self.real)
        def __setitem__(self, name, value):
            self.real[name] = value
        def __delitem__(self, name):
            del self.real[name]
        def copy(self):
            read.append("*")
            return self.real.copy()

    os.environ = Watched(os.environ)
    sys.addaudithook(refuse)
    import app, config, wiring
    for package in ("models", "cards", "addon", "sync", "google_clients"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    at_import = list(read)
    try:
        config.Config.from_env()  # the watcher sees a real read: it would see one at import too
    except config.ConfigError:
        pass
    print(json.dumps({"modules": len(sys.modules), "at_import": at_import, "from_env": read[len(at_import):]}))
""")


def sidecar_variables(names: list[str]) -> list[str]:
    return [n for n in names if n == "*" or n.startswith("SIDECAR_") or n in STANDARD_VARIABLES]


def test_importing_every_package_connects_to_nothing_and_reads_no_variable():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIDECAR_", "GOOGLE_", "FIRESTORE_"))}
    result = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert sidecar_variables(seen["at_import"]) == []
    assert "GOOGLE_CLOUD_PROJECT" in sidecar_variables(seen["from_env"])


def test_an_explicit_config_needs_no_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("SIDECAR_", "GOOGLE_", "FIRESTORE_")):
            monkeypatch.delenv(name)
    app = create_app({"google_cloud_project": "demo", "public_url": "https://sidecar.example.com"})
    assert app.extensions["sidecar"].config.public_url == "https://sidecar.example.com"
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
