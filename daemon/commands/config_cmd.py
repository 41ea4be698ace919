"""``scoutzoom config example|systemd-unit|readme``: the files an installation needs, from the installed package.

A wheel carries no checkout, so these come from inside it: the example config is
rendered from the config models (every key, commented, with its default), the
systemd unit is package data (``daemon/data/scoutzoom.service``) and the README
is the package's long description.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata, resources
from pathlib import Path

from daemon import exit_codes

UNIT_RESOURCE = "scoutzoom.service"
SHIPPED_EXECUTABLE = "/opt/scoutzoom/venv/bin/scoutzoom"
SHIPPED_CONFIG = "/etc/scoutzoom/config.toml"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config", help="print the example config, the systemd unit or the README (from the installed package)"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("example", help="the example config: every key, commented, with its default")
    unit = actions.add_parser("systemd-unit", help="the systemd unit file (scoutzoom.service)")
    unit.add_argument(
        "--executable",
        default=None,
        metavar="PATH",
        help=f"scoutzoom executable for ExecStart (default: {SHIPPED_EXECUTABLE}; 'auto': this installation's)",
    )
    unit.add_argument(
        "--config", default=None, metavar="FILE", help=f"config file the unit reads (default: {SHIPPED_CONFIG})"
    )
    actions.add_parser("readme", help="the README (for /usr/share/doc/scoutzoom/README.md, the unit's Documentation=)")
    parser.set_defaults(func=run)


def unit_text(executable: str | None = None, config: str | None = None) -> str:
    """The shipped unit, with the executable and config paths replaced when given."""
    text = resources.files("daemon.data").joinpath(UNIT_RESOURCE).read_text(encoding="utf-8")
    if executable == "auto":
        executable = (
            str(Path(sys.argv[0]).resolve())
            if Path(sys.argv[0]).name == "scoutzoom"
            else str(Path(sys.executable).parent / "scoutzoom")
        )
    if executable:
        text = text.replace(SHIPPED_EXECUTABLE, executable)
    if config:
        text = text.replace(SHIPPED_CONFIG, config)
    return text


def readme_text() -> str:
    """The README as installed (the distribution's long description)."""
    # The body of METADATA is the description; importlib_metadata (which dask and ome-zarr import, and which
    # then answers for the stdlib) moves it into a "Description" field instead, so read whichever holds it.
    try:
        found = metadata.metadata("scoutzoom")
        payload = found.get("Description") or found.get_payload()
    except metadata.PackageNotFoundError:
        payload = None
    if not payload:
        from models.errors import InputError

        raise InputError(None, "scoutzoom is not installed as a distribution, so its README is not in its metadata")
    return str(payload)


def run(args: argparse.Namespace) -> int:
    if args.action == "example":
        from daemon.example_config import render

        sys.stdout.write(render())
    elif args.action == "systemd-unit":
        sys.stdout.write(unit_text(args.executable, args.config))
    else:
        sys.stdout.write(readme_text())
    return exit_codes.OK
