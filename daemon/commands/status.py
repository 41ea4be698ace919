"""``scoutzoom status``: queue, running and recent jobs, pairs waiting or stalled, and loose scans reported and
not processed (ambiguous groups, unreadable files), from the job store."""

from __future__ import annotations

import argparse
import json
import sys
import time

from daemon import exit_codes
from daemon.commands._store_args import add_store_arguments, store_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help="show the daemon's queue, recent jobs and stalled pairs")
    add_store_arguments(parser)
    parser.add_argument("--limit", type=int, default=20, help="recent jobs to list")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def _age(seconds: float) -> str:
    seconds = max(0.0, time.time() - seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def run(args: argparse.Namespace) -> int:
    from daemon.store import JobStore, StoreError

    path = store_path(args)
    if not path.exists():
        print(f"no job store at {path} (has the daemon run with this state dir?)", file=sys.stderr)
        return exit_codes.FAILED
    try:
        store = JobStore(path)
    except StoreError as error:
        print(f"scoutzoom status: {error}", file=sys.stderr)
        return exit_codes.FAILED
    try:
        counts, recent, pending = store.counts(), store.recent(args.limit), store.pending()
        unwritten, unpaired = store.unwritten(), store.unpaired()
    finally:
        store.close()
    if args.json:
        body = {
            "store": str(path),
            "counts": counts,
            "jobs": [job.model_dump(mode="json") for job in recent],
            "pending": [p.model_dump(mode="json") for p in pending],
            "unwritten_failures": [u.model_dump(mode="json") for u in unwritten],
            "unpaired": [u.model_dump(mode="json") for u in unpaired],
        }
        print(json.dumps(body, indent=2))
        return exit_codes.OK
    print(f"store {path}")
    print("jobs: " + ", ".join(f"{state} {n}" for state, n in counts.items()))
    if pending:
        print("\nwaiting pairs:")
        for item in pending:
            label = "STALLED" if item.stalled else "waiting"
            print(f"  {label:8} {item.pair}  since {_age(item.since_s)}: {item.reason}")
    if unpaired:
        print("\nloose scans not paired (not processed; fix or move them):")
        for group in unpaired:
            label = "BROKEN" if group.broken else "AMBIGUOUS"
            print(f"  {label:9} {group.key}  since {_age(group.since_s)}: {group.reason}")
            for path in group.paths:
                print(f"            {path}")
    if unwritten:
        print("\nFAILED.json not written yet (output disk full or folder refused; the daemon retries):")
        for item in unwritten:
            print(f"  {item.pair} -> {item.out_dir}  since {_age(item.since_s)}")
    if recent:
        print("\nrecent jobs:")
        for job in recent:
            state = f"{job.state}({job.stage})" if job.state == "running" and job.stage else job.state
            print(f"  #{job.id:<5} {state:24} attempts {job.attempts}  {_age(job.updated_s):>9}  {job.pair}")
            if job.message and job.state != "done":
                print(f"         {job.message}")
    return exit_codes.OK
