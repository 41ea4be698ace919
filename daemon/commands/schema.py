"""``scoutzoom schema``: print JSON Schemas of the project's file formats."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("schema", help="print the JSON Schema of scan.json (or another format)")
    parser.add_argument("what", nargs="?", default="scan", choices=["scan", "report", "config", "model-card"])
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "scan":
        from pipeline.acquisition.contract import json_schema

        schema = json_schema()
    elif args.what == "report":
        from pipeline.pair.report import report_json_schema

        schema = report_json_schema()
    elif args.what == "config":
        from daemon.config import DaemonConfig

        schema = DaemonConfig.model_json_schema()
    else:
        from models.cache.card import ModelCard

        schema = ModelCard.model_json_schema()
    print(json.dumps(schema, indent=2))
    return 0
