"""``scoutzoom retry PAIR``: queue a failed (or done) pair again; the running daemon picks it up."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from daemon import exit_codes
from daemon.commands._store_args import add_store_arguments, store_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("retry", help="process a failed or done pair again")
    parser.add_argument("pairs", nargs="+", type=Path, metavar="PAIR", help="pair directory")
    add_store_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from daemon.store import JobStore, StoreError

    try:
        store = JobStore(store_path(args))
    except StoreError as error:
        print(f"scoutzoom retry: {error}", file=sys.stderr)
        return exit_codes.FAILED
    status = exit_codes.OK
    try:
        for pair in args.pairs:
            job = store.retry(pair.resolve(), time.time())
            if job is None:
                known = store.get(pair.resolve())
                why = "is running" if known is not None else "is not a known job"
                print(f"{pair}: {why}", file=sys.stderr)
                status = exit_codes.FAILED
            else:
                print(f"{pair}: queued again (job {job.id})")
    finally:
        store.close()
    return status
