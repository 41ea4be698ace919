"""``scoutzoom watch``: the long-running service (what the systemd unit starts)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from daemon import exit_codes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watch",
        help="watch folders for scout/zoom pairs and process each once (the service)",
        description="Watch ROOTs (or the config's watch.roots) for pairs and process each ready pair once. "
        "Flags override the config file; with no config file the defaults plus flags suffice.",
    )
    parser.add_argument("roots", nargs="*", type=Path, metavar="ROOT", help="folders to watch (replace watch.roots)")
    parser.add_argument("--config", type=Path, help="TOML config file (see config.example.toml)")
    parser.add_argument("--out", type=Path, help="output root (output.root)")
    parser.add_argument("--state-dir", type=Path, help="job store, model cache and default outputs (state_dir)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus endpoint port (metrics.port)")
    parser.add_argument("--preset", choices=["small", "medium", "standard"], help="network preset (pipeline.preset)")
    parser.add_argument("--settle-s", type=float, help="quiet time before a complete pair is ready (watch.settle_s)")
    parser.set_defaults(func=run)


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted config keys set on the command line (absolute paths: the service may change directory)."""
    return {
        "watch.roots": [str(root.resolve()) for root in args.roots] or None,
        "output.root": str(args.out.resolve()) if args.out else None,
        "state_dir": str(args.state_dir.resolve()) if args.state_dir else None,
        "metrics.port": args.metrics_port,
        "pipeline.preset": args.preset,
        "watch.settle_s": args.settle_s,
    }


def run(args: argparse.Namespace) -> int:
    import signal

    from daemon.config import load_config
    from daemon.config_checks import service_problems
    from daemon.lock import AlreadyRunning, StateLock
    from models.errors import ConfigError

    overrides = overrides_from(args)

    def load() -> Any:
        return load_config(args.config, overrides)

    try:
        config = load()
        problems = service_problems(config)
        if problems:
            raise ConfigError(str(args.config or "command line"), problems)
    except ConfigError as error:
        print(f"scoutzoom watch: invalid configuration ({error.source}):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return exit_codes.USAGE
    lock = StateLock(config.state_dir)
    try:
        lock.acquire()  # first, before the (slow) imports: a second instance says so at once and touches nothing
    except AlreadyRunning as error:
        print(f"scoutzoom watch: {error}", file=sys.stderr)
        return exit_codes.FAILED
    from daemon.logs import configure_logging, get_logger
    from daemon.service import Daemon
    from daemon.store import StoreError

    configure_logging(config.log.format, config.log.level)
    try:
        daemon = Daemon(config, reload=load, lock=lock)
    except (StoreError, ConfigError) as error:  # e.g. executor.kind = "dask" without the extra, scheduler unreachable
        lock.release()
        print(f"scoutzoom watch: {error}", file=sys.stderr)
        return exit_codes.USAGE
    signal.signal(signal.SIGTERM, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGHUP, lambda *_: daemon.request_reload())
    try:
        return daemon.run()
    except Exception:
        get_logger().exception("daemon crashed")
        raise
