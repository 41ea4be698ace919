"""``scoutzoom check-config FILE``: validate a daemon config, listing every problem (ExecStartPre of the unit)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from daemon import exit_codes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check-config", help="validate a daemon config file; lists every problem")
    parser.add_argument("file", type=Path, help="TOML config file")
    parser.add_argument(
        "--json", action="store_true", help='print {"file", "ok", "problems"} on stdout (same exit code)'
    )
    parser.set_defaults(func=run)


def problems_in(path: Path) -> list[str]:
    """Every problem with the config at ``path``: schema, then filesystem and processor checks."""
    from daemon.config import load_config
    from daemon.config_checks import service_problems
    from models.errors import ConfigError

    try:
        config = load_config(path)
    except ConfigError as error:
        return error.problems
    problems = service_problems(config)
    module = config.advanced.processor.partition(":")[0]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        problems.append(f"advanced.processor: module {module!r} not found")
    return problems


def run(args: argparse.Namespace) -> int:
    problems = problems_in(args.file)
    if args.json:
        print(json.dumps({"file": str(args.file), "ok": not problems, "problems": problems}, indent=2))
    elif problems:
        print(f"{args.file}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
    else:
        print(f"{args.file}: ok")
    return exit_codes.USAGE if problems else exit_codes.OK
