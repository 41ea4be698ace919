"""The README's metric table lists exactly what the daemon exports: names, types and label names."""

from __future__ import annotations

import re
from pathlib import Path

from tests.daemon.metric_samples import exported_families

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(?P<name>[a-z_:][a-z0-9_:]*)(?:\{(?P<labels>[a-z_,]*)\})?` \| (?P<type>[a-z]+) \|")


def readme_table() -> dict[str, tuple[str, frozenset[str]]]:
    """Rows of the table under '### Metrics': exposed name -> (type, label names)."""
    section = README.read_text().split("\n### Metrics\n", 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            labels = frozenset(filter(None, (match["labels"] or "").split(",")))
            rows[match["name"]] = (match["type"], labels)
    return rows


def exported() -> dict[str, tuple[str, frozenset[str]]]:
    """What the endpoint serves once every series has a value: exposed name -> (type, label names)."""
    found = {}
    for family in exported_families():
        name = family.name + "_total" if family.type == "counter" else family.name
        labels = frozenset(key for sample in family.samples for key in sample.labels if key != "le")
        found[name] = (family.type, labels)
    return found


def test_readme_table_is_found() -> None:
    assert len(readme_table()) >= 10


def test_every_exported_metric_is_in_the_readme_with_its_type_and_labels() -> None:
    table = readme_table()
    missing = {name: kind for name, kind in exported().items() if table.get(name) != kind}
    assert not missing, f"README.md ### Metrics lacks or misstates: {missing}"


def test_every_readme_metric_is_exported() -> None:
    served = exported()
    stale = {name: kind for name, kind in readme_table().items() if served.get(name) != kind}
    assert not stale, f"README.md ### Metrics lists what the daemon does not export: {stale}"
