"""``scoutzoom models verify --json``: one object per model, the exit code unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from daemon import exit_codes
from daemon.cli import main
from models.cache.store import ModelCache


def test_verify_json_lists_each_model_with_its_verdict(tmp_path: Path, model_dir: Path, make_card, capsys) -> None:
    cache = ModelCache(tmp_path / "cache")
    good = cache.add(model_dir, make_card())
    bad = cache.add(model_dir, make_card(sample_class="foam"))
    (cache.path(bad) / "model.keras").write_bytes(b"tampered")
    code = main(["models", "--model-cache", str(cache.directory), "verify", "--json"])
    results = {entry["id"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert code == exit_codes.FAILED
    assert results[good] == {"id": good, "ok": True, "reason": None}
    assert results[bad]["ok"] is False and "model.keras" in results[bad]["reason"]
    assert main(["models", "--model-cache", str(cache.directory), "verify", good, "--json"]) == exit_codes.OK
    assert json.loads(capsys.readouterr().out) == [{"id": good, "ok": True, "reason": None}]
