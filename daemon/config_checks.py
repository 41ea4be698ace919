"""Configurations that validate but would make the service do nothing, or do harm.

The schema cannot see these: an output root that contains a watch root makes
every pair look like our own output (ignored, silently), one inside a watch
root mixes outputs with acquisitions, and nested watch roots see each pair
twice under two names. ``scoutzoom watch`` refuses them at start and on
SIGHUP (keeping the old config); ``scoutzoom check-config`` should list them.
"""

from __future__ import annotations

from pathlib import Path

from daemon.config import DaemonConfig, filesystem_problems


def _relation(inner: Path, outer: Path) -> str | None:
    """'the same as', 'inside' or 'above' when the two paths overlap, else None."""
    inner, outer = inner.expanduser().resolve(), outer.expanduser().resolve()
    if inner == outer:
        return "the same as"
    if outer in inner.parents:
        return "inside"
    if inner in outer.parents:
        return "above"
    return None


def overlap_problems(config: DaemonConfig) -> list[str]:
    """Output root overlapping a watch root; watch roots inside each other."""
    problems = []
    roots = config.watch.roots
    if not config.pipeline.output.inside_pair:
        for index, root in enumerate(roots):
            relation = _relation(config.output_root, root)
            if relation is not None:
                problems.append(
                    f"output.root: {config.output_root} is {relation} watch root {root} (watch.roots.{index}); "
                    "outputs must go outside the watched folders"
                )
    for i, first in enumerate(roots):
        for j in range(i + 1, len(roots)):
            relation = _relation(first, roots[j])
            if relation is not None:
                problems.append(
                    f"watch.roots.{i}: {first} is {relation} watch.roots.{j} ({roots[j]}); "
                    "each pair would be seen twice"
                )
    return problems


def service_problems(config: DaemonConfig) -> list[str]:
    """Every problem that stops ``config`` from running as a service (filesystem checks, then overlaps)."""
    return filesystem_problems(config) + overlap_problems(config)
