"""``python -m gsim``: serve a seeded Workspace until interrupted.

Prints one line, ``gsim listening on URL``, once the port is bound (so a
parent process can read the URL when it asked for ``--port 0``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import quotas

from . import generator
from .simulator import Simulator


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gsim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8085, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--domain", default="example.com")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--companies", type=int, default=8)
    parser.add_argument("--messages", type=int, default=200, help="per mailbox")
    parser.add_argument("--events", type=int, default=40, help="per calendar")
    parser.add_argument("--days", type=int, default=365, help="how far back the backlog reaches")
    parser.add_argument("--quota-profile", choices=tuple(quotas.PROFILES), default=quotas.DEFAULT_PROFILE,
                        help="Google's limits to enforce (quotas.py)")
    parser.add_argument("--quota-units-per-minute", type=int, default=None,
                        help="Gmail, per user (default: the profile's; 0 turns it off)")
    parser.add_argument("--quota-window-seconds", type=float, default=None,
                        help="Google's sliding minute, shortened (a benchmark's scaled-down budgets)")
    parser.add_argument("--thread-mix", choices=generator.THREAD_MIXES, default=generator.DEFAULT_THREAD_MIX)
    parser.add_argument("--key-file", help="write a service-account key (token_uri pointing here) to this path")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sim = Simulator(
        seed=args.seed,
        domain=args.domain,
        reps=args.reps,
        companies=args.companies,
        messages=args.messages,
        events=args.events,
        days=args.days,
        quota_units_per_minute=args.quota_units_per_minute,
        quota_profile=args.quota_profile,
        thread_mix=args.thread_mix,
        **({"quota_window_seconds": args.quota_window_seconds} if args.quota_window_seconds else {}),
    )

    def ready(sim: Simulator) -> None:
        if args.key_file:
            sim.write_service_account_key(args.key_file)
        print(f"gsim listening on {sim.url}", flush=True)  # the one line a parent process reads

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        sim.serve_forever(args.host, args.port, ready=ready)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
