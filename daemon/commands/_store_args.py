"""Shared ``--config`` / ``--state-dir`` options of the commands that open the job store."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="daemon config file (its state_dir / jobs.store)")
    parser.add_argument("--state-dir", type=Path, help="the daemon's state directory (overrides the config)")


def store_path(args: argparse.Namespace) -> Path:
    """The job store the daemon with these options uses."""
    from daemon.config import load_config

    overrides = {"state_dir": str(args.state_dir.resolve()) if args.state_dir else None}
    if args.state_dir and args.config is None:
        return args.state_dir / "jobs.sqlite3"
    return load_config(args.config, overrides).store_path
