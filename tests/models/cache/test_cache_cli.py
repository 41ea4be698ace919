"""``scoutzoom models list|show|verify|rm|export`` against a temporary cache."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from daemon import exit_codes
from daemon.commands import models as models_command
from models.cache.paths import default_cache_dir
from models.cache.store import ModelCache


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="scoutzoom")
    models_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["models", *argv])
    return args.func(args)


@pytest.fixture
def filled(tmp_path: Path, model_dir: Path, make_card) -> tuple[Path, str]:
    directory = tmp_path / "cache"
    model_id = ModelCache(directory).add(model_dir, make_card(sample_class="foam"))
    return directory, model_id


def test_list_and_show(filled, capsys) -> None:
    directory, model_id = filled
    assert _run("--model-cache", str(directory), "list") == exit_codes.OK
    line = capsys.readouterr().out
    assert model_id in line and "class foam" in line and "4X" in line
    assert _run("--model-cache", str(directory), "list", "--json") == exit_codes.OK
    assert json.loads(capsys.readouterr().out)[0]["id"] == model_id
    assert _run("--model-cache", str(directory), "show", model_id) == exit_codes.OK
    assert json.loads(capsys.readouterr().out)["id"] == model_id


def test_option_after_the_action_works_too(filled, capsys) -> None:
    directory, model_id = filled
    assert _run("show", model_id, "--model-cache", str(directory)) == exit_codes.OK
    assert json.loads(capsys.readouterr().out)["id"] == model_id


def test_verify_reports_corruption(filled, capsys) -> None:
    directory, model_id = filled
    assert _run("--model-cache", str(directory), "verify") == exit_codes.OK
    (directory / model_id / "model.keras").write_bytes(b"tampered")
    assert _run("--model-cache", str(directory), "verify", model_id) == exit_codes.FAILED
    assert "REJECTED" in capsys.readouterr().out


def test_export_and_rm(filled, tmp_path, capsys) -> None:
    directory, model_id = filled
    dest = tmp_path / "exported"
    assert _run("--model-cache", str(directory), "export", model_id, str(dest)) == exit_codes.OK
    assert (dest / "card.json").is_file() and (dest / "model.onnx").is_file()
    assert _run("--model-cache", str(directory), "rm", model_id) == exit_codes.OK
    assert not (directory / model_id).exists()
    assert _run("--model-cache", str(directory), "rm", model_id) == exit_codes.FAILED
    assert "no cached model" in capsys.readouterr().err


def test_default_cache_dir_follows_the_state_dir(tmp_path) -> None:
    assert default_cache_dir({"SCOUTZOOM_STATE_DIR": str(tmp_path)}) == tmp_path / "models"
    assert default_cache_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "scoutzoom" / "models"
    assert default_cache_dir({}) == Path.home() / ".local" / "state" / "scoutzoom" / "models"
