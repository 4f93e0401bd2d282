"""The local demo: `python -m demo` brings the whole product up, and a card preview page.

- `demo.__main__` (the orchestrator) starts the Firestore emulator, the Google API
  simulator with a seeded sales team, a first `python -m sync once`, the web backend
  (gunicorn) and `python -m sync run`, each in its own process group, and stops them
  all on Ctrl-C.
- `demo.preview` is a Flask blueprint that lists the demo mailbox like a mail client
  and sends the backend exactly the events Google would send, signed by the
  simulator's token issuer. It exists only in demo mode: `demo.wsgi` is the only place
  that registers it, and it refuses to unless `SIDECAR_DEMO` is on. Production runs
  `gunicorn app:app`, which never imports this package.
- `demo/static/` renders card JSON to HTML like Gmail's add-on panel (no build step).
"""
