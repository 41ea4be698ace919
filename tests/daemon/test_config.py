"""Daemon config: defaults, presets under [pipeline], flags, and every problem reported with its key path."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from daemon.config import apply_overrides, load_config, validate_config
from models.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_defaults_fill_paths_from_the_state_dir(tmp_path: Path) -> None:
    config = validate_config({"state_dir": str(tmp_path)})
    assert config.output_root == tmp_path / "output"
    assert config.store_path == tmp_path / "jobs.sqlite3"
    assert config.pipeline.cache.directory == tmp_path / "models"
    assert config.metrics.address == "127.0.0.1" and config.metrics.port == 9464
    assert config.jobs.concurrency == 1


def test_pipeline_table_sits_on_its_preset() -> None:
    config = validate_config({"pipeline": {"preset": "small", "training": {"iterations": 50}}})
    assert config.pipeline.preset == "small"
    assert config.pipeline.training.iterations == 50
    assert config.pipeline.network.base_filters == 8  # from the small preset
    assert validate_config({}).pipeline.network.depth == 4  # standard


def test_every_problem_is_listed_with_its_key_path() -> None:
    table = {
        "watch": {"settle_s": "soon", "colour": "blue"},
        "metrics": {"port": 70000},
        "pipeline": {"network": {"depth": "deep"}, "unknown_section": {}},
        "advanced": {"processor": "no-colon"},
    }
    with pytest.raises(ConfigError) as caught:
        validate_config(table, "x.toml")
    problems = "\n".join(caught.value.problems)
    for path in (
        "watch.settle_s:",
        "watch.colour: unknown key",
        "metrics.port:",
        "pipeline.network.depth:",
        "pipeline.unknown_section: unknown key",
        "advanced.processor:",
    ):
        assert path in problems
    assert len(caught.value.problems) == 6


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n[watch]\nsettle_s = 30\nroots = ["{tmp_path}"]\n')
    config = load_config(path, {"watch.settle_s": 2.5, "pipeline.preset": "small", "metrics.port": None})
    assert config.watch.settle_s == 2.5
    assert config.pipeline.preset == "small"
    assert config.metrics.port == 9464
    assert config.watch.roots == [tmp_path.resolve()]
    assert apply_overrides({"a": {"b": 1}}, {"a.c": 2}) == {"a": {"b": 1, "c": 2}}


def test_bad_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[watch\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_example_config_is_valid_and_documents_every_key() -> None:
    example = REPO / "config.example.toml"
    text = example.read_text()
    uncommented = "\n".join(re.sub(r"^# (\w+ = )", r"\1", line) for line in text.splitlines())
    config = validate_config(tomllib.loads(uncommented))  # every commented key, uncommented, is valid
    dumped = config.model_dump()

    def keys(table: dict, prefix: str = "") -> list[str]:
        found = []
        for key, value in table.items():
            found.extend(keys(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"])
        return found

    documented = set(keys(tomllib.loads(uncommented)))
    missing = [key for key in keys(dumped) if key not in documented]
    assert missing == [], "regenerate: python -m daemon.example_config > config.example.toml"
