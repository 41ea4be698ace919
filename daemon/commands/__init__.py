"""CLI subcommands, one module each, registered by :mod:`daemon.cli`.

Each module defines ``register(subparsers)`` that adds its parser and sets
``func`` (taking the parsed ``argparse.Namespace`` and returning an exit code).
Heavy libraries (TensorFlow, RTK) are imported inside ``func`` only, so
``scoutzoom --help`` stays fast.
"""
