"""``scoutzoom`` console script: dispatches to the subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from daemon import exit_codes
from models.errors import ConfigError, ScoutzoomError

# Subcommand modules under daemon.commands, in the order --help lists them.
COMMAND_MODULES = (
    "demo",
    "process",
    "simulate",
    "inspect",
    "watch",
    "status",
    "retry",
    "check_config",
    "config_cmd",
    "models",
    "bench",
    "schema",
    "doctor",
)


def version() -> str:
    """Installed scoutzoom version ("unknown" when run from a checkout that was never installed)."""
    from importlib import metadata

    try:
        return metadata.version("scoutzoom")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scoutzoom",
        description="Resolution recovery for multiscale X-ray CT: scout + zoom -> recovered volume.",
        epilog="`scoutzoom COMMAND --help` for a command's options. Start with `scoutzoom demo`; "
        "`scoutzoom config example` prints every config key. `scoutzoom bench` runs from a source checkout "
        "only (the benchmarks are not in the wheel).",
    )
    parser.add_argument("--version", action="version", version=f"scoutzoom {version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"daemon.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"daemon.commands.{name}":
                continue  # not built yet
            raise
        module.register(subparsers)
    return parser


def quiet_libraries() -> None:
    """Keep TensorFlow's C++ start-up chatter and known third-party warnings off the user's terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=".*np.object.*", category=FutureWarning)


def main(argv: Sequence[str] | None = None) -> int:
    quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as error:  # a bad config file or option value: the user's to fix, like a bad flag
        print(f"scoutzoom: error: {error}", file=sys.stderr)
        return exit_codes.USAGE
    except ScoutzoomError as error:
        print(f"scoutzoom: error: {error}", file=sys.stderr)
        return exit_codes.FAILED
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.OK
    except KeyboardInterrupt:
        print("scoutzoom: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
