"""ModelCache on disk: add, list, verify (and rejection), LRU eviction, export."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.cache.card import CARD_FILE
from models.cache.config import CacheConfig
from models.cache.store import REJECTED_DIR, ModelCache
from models.cache.verify import CacheEntryRejected
from models.errors import InputError


@pytest.fixture
def cache(tmp_path: Path) -> ModelCache:
    return ModelCache(tmp_path / "cache", CacheConfig())


def test_add_copies_files_with_checksums(cache, model_dir, make_card) -> None:
    card = make_card()
    model_id = cache.add(model_dir, card)
    entry = cache.path(model_id)
    assert sorted(p.name for p in entry.iterdir()) == ["card.json", "model.keras", "model.onnx", "normalisation.json"]
    stored = cache.get(model_id)
    assert set(stored.files) == {"model.keras", "model.onnx", "normalisation.json"}
    assert stored.files["model.onnx"].size_bytes == (model_dir / "model.onnx").stat().st_size
    assert [c.id for c in cache.list()] == [model_id]
    cache.verify(model_id)  # intact entry passes
    assert not [p for p in cache.directory.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_add_needs_onnx_and_refuses_duplicates(cache, model_dir, make_card) -> None:
    (model_dir / "model.onnx").rename(model_dir / "other.onnx")
    with pytest.raises(InputError, match="model.onnx"):
        cache.add(model_dir, make_card())
    (model_dir / "other.onnx").rename(model_dir / "model.onnx")
    card = make_card()
    cache.add(model_dir, card)
    with pytest.raises(InputError, match="exists"):
        cache.add(model_dir, card)


def test_verify_rejects_corrupted_onnx(cache, model_dir, make_card) -> None:
    model_id = cache.add(model_dir, make_card())
    onnx_path = cache.path(model_id) / "model.onnx"
    data = bytearray(onnx_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx_path.write_bytes(bytes(data))
    with pytest.raises(CacheEntryRejected, match="sha256"):
        cache.verify(model_id)


def test_verify_rejects_missing_file(cache, model_dir, make_card) -> None:
    model_id = cache.add(model_dir, make_card())
    (cache.path(model_id) / "model.keras").unlink()
    with pytest.raises(CacheEntryRejected, match="model.keras is missing"):
        cache.verify(model_id)


def test_verify_rejects_unsupported_card_version(cache, model_dir, make_card) -> None:
    model_id = cache.add(model_dir, make_card())
    card_path = cache.path(model_id) / CARD_FILE
    data = json.loads(card_path.read_text())
    data["card_version"] = 99
    card_path.write_text(json.dumps(data))
    with pytest.raises(CacheEntryRejected, match="card_version"):
        cache.verify(model_id)
    assert cache.list() == [] and "card_version" in cache.problems()[model_id]


def test_verify_rejects_network_config_this_code_refuses(cache, model_dir, make_card) -> None:
    card = make_card()
    card = card.model_copy(update={"network": {**card.network, "attention": True}})
    model_id = cache.add(model_dir, card)
    with pytest.raises(CacheEntryRejected, match="network config"):
        cache.verify(model_id)


def test_verify_rejects_onnx_with_wrong_channels(cache, tmp_path, make_card, write_onnx) -> None:
    directory = tmp_path / "three"
    directory.mkdir()
    write_onnx(directory / "model.onnx", slices=3)
    model_id = cache.add(directory, make_card(slices=5))
    with pytest.raises(CacheEntryRejected, match="input shape"):
        cache.verify(model_id)


def test_verify_rejects_onnx_that_does_not_load(cache, tmp_path, make_card) -> None:
    directory = tmp_path / "junk"
    directory.mkdir()
    (directory / "model.onnx").write_bytes(b"\x00garbage, but with a matching checksum")
    model_id = cache.add(directory, make_card())
    with pytest.raises(CacheEntryRejected, match="does not load"):
        cache.verify(model_id)


def test_reject_moves_entry_aside_with_reason(cache, model_dir, make_card) -> None:
    model_id = cache.add(model_dir, make_card())
    aside = cache.reject(model_id, "fails its sha256 checksum")
    assert not cache.path(model_id).exists() and cache.list() == []
    assert aside.parent == cache.directory / REJECTED_DIR
    assert (aside / "model.onnx").is_file()
    assert "sha256" in (aside / "REJECTED.txt").read_text()


def test_touch_records_use(cache, model_dir, make_card) -> None:
    model_id = cache.add(model_dir, make_card())
    assert cache.get(model_id).last_used_utc is None
    cache.touch(model_id)
    card = cache.touch(model_id)
    assert card.use_count == 2 and card.last_used_utc is not None
    assert cache.get(model_id) == card
    cache.verify(model_id)  # touching does not break checksums


def test_evict_to_limit_removes_least_recently_used(tmp_path, model_dir, make_card) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    probe = ModelCache(tmp_path / "probe")
    probe.add(model_dir, make_card())
    entry_bytes = probe.size_bytes()
    # room for two entries and a half
    cache = ModelCache(tmp_path / "cache", CacheConfig(max_size_gb=2.5 * entry_bytes / 1e9))
    ids = [cache.add(model_dir, make_card(created_utc=base + timedelta(days=i))) for i in range(4)]
    cache.update(
        cache.get(ids[0]).model_copy(update={"last_used_utc": base + timedelta(days=10)})
    )  # oldest, but used last
    evicted = cache.evict_to_limit(keep=[ids[1]])
    # LRU order: ids[1] (kept), ids[2], ids[3], ids[0] (used last); two must go to fit 2.5 entries
    assert evicted == [ids[2], ids[3]]
    assert {c.id for c in cache.list()} == {ids[0], ids[1]}
    assert cache.size_bytes() <= cache.config.max_size_gb * 1e9 + 1


def test_export_copies_card_and_files(cache, model_dir, make_card, tmp_path) -> None:
    model_id = cache.add(model_dir, make_card())
    dest = tmp_path / "exports"
    dest.mkdir()
    exported = cache.export(model_id, dest)
    assert exported == dest / model_id
    assert (exported / "card.json").is_file() and (exported / "model.onnx").is_file()
    other = ModelCache(tmp_path / "other")
    os.makedirs(other.directory)
    (exported).rename(other.directory / model_id)
    other.verify(model_id)  # an exported entry is a valid entry elsewhere


def test_remove_and_unknown_ids(cache, model_dir, make_card) -> None:
    model_id = cache.add(model_dir, make_card())
    cache.remove(model_id)
    assert cache.ids() == []
    with pytest.raises(KeyError):
        cache.get(model_id)
    with pytest.raises(InputError):
        cache.path("../escape")
