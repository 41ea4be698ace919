"""The model cache on disk: one directory per model, ``<dir>/<id>/card.json`` plus its files.

Writes are atomic (a temporary directory renamed into place; the card replaced
with ``os.replace``), so a reader never sees half an entry. Entries found
unusable are moved to ``<dir>/.rejected/`` with a ``REJECTED.txt`` saying why,
never deleted. Size is bounded by ``CacheConfig.max_size_gb`` with
least-recently-used eviction (``last_used_utc``, or ``created_utc`` if never used).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

from models.atomic import write_text_atomic
from models.cache.card import CARD_FILE, ONNX_FILE, FileEntry, ModelCard, RuntimeEngine, sha256_file
from models.cache.config import CacheConfig
from models.cache.verify import CacheEntryRejected, read_card, verify_entry
from models.clock import utc_now
from models.errors import InputError

REJECTED_DIR = ".rejected"
ModelFiles = Path | Iterable[Path] | Mapping[str, Path]


def _write_card(entry_dir: Path, card: ModelCard) -> None:
    """Replace ``card.json`` atomically."""
    write_text_atomic(entry_dir / CARD_FILE, card.to_json())


def _collect(files: ModelFiles) -> dict[str, Path]:
    """Name -> source path for a model directory, a list of files or an explicit mapping."""
    if isinstance(files, Mapping):
        collected = {str(name): Path(path) for name, path in files.items()}
    elif isinstance(files, (str, Path)) and Path(files).is_dir():
        collected = {p.name: p for p in sorted(Path(files).iterdir()) if p.is_file() and p.name != CARD_FILE}
    elif isinstance(files, (str, Path)):
        raise InputError(files, "not a model directory")
    else:
        collected = {Path(p).name: Path(p) for p in files}
    for name, path in collected.items():
        if Path(name).name != name or name in ("", CARD_FILE):
            raise InputError(path, f"cannot store a model file as {name!r}")
        if not path.is_file():
            raise InputError(path, "model file not found")
    if ONNX_FILE not in collected:
        raise InputError(None, f"a cached model needs {ONNX_FILE} (got {sorted(collected)})")
    return collected


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class ModelCache:
    """Cached models under ``directory`` (created on first write)."""

    def __init__(self, directory: Path, config: CacheConfig | None = None) -> None:
        self.directory = Path(directory).expanduser()
        self.config = config or CacheConfig()

    # -- reading --------------------------------------------------------------
    def path(self, model_id: str) -> Path:
        """Directory of an entry (``InputError`` for ids that are not plain names)."""
        if not model_id or Path(model_id).name != model_id or model_id.startswith("."):
            raise InputError(None, f"not a model id: {model_id!r}")
        return self.directory / model_id

    def ids(self) -> list[str]:
        """Ids of every entry directory (valid or not), sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if p.is_dir() and not p.name.startswith("."))

    def list(self) -> list[ModelCard]:
        """Cards that parse, oldest first; entries whose card does not parse are left out (see ``problems``)."""
        cards = []
        for model_id in self.ids():
            try:
                cards.append(read_card(self.directory / model_id))
            except CacheEntryRejected:
                continue
        return sorted(cards, key=lambda card: card.created_utc)

    def problems(self) -> dict[str, str]:
        """Id -> reason for entries whose card does not parse (cheap: no checksums)."""
        found: dict[str, str] = {}
        for model_id in self.ids():
            try:
                read_card(self.directory / model_id)
            except CacheEntryRejected as error:
                found[model_id] = error.reason
        return found

    def get(self, model_id: str) -> ModelCard:
        """The card of ``model_id``: ``KeyError`` if absent, ``CacheEntryRejected`` if unreadable."""
        entry = self.path(model_id)
        if not entry.is_dir():
            raise KeyError(model_id)
        return read_card(entry)

    def verify(self, model_id: str) -> None:
        """Return if the entry is fit for use, else raise ``CacheEntryRejected`` (see ``verify_entry``)."""
        entry = self.path(model_id)
        if not entry.is_dir():
            raise CacheEntryRejected(model_id, "no such entry")
        verify_entry(entry)

    def size_bytes(self) -> int:
        """Bytes held by entries (rejected entries not counted)."""
        return sum(_dir_bytes(self.directory / model_id) for model_id in self.ids())

    # -- writing --------------------------------------------------------------
    def add(self, files: ModelFiles, card: ModelCard) -> str:
        """Copy the model files into ``<dir>/<card.id>/`` with their checksums on the card; return the id."""
        sources = _collect(files)
        destination = self.path(card.id)
        if destination.exists():
            raise InputError(destination, "a cached model with this id exists")
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".adding-{card.id}-", dir=self.directory))
        try:
            entries = {}
            for name, source in sources.items():
                shutil.copyfile(source, staging / name)
                entries[name] = FileEntry(
                    sha256=sha256_file(staging / name), size_bytes=(staging / name).stat().st_size
                )
            stored = card.model_copy(update={"files": entries})
            _write_card(staging, ModelCard.model_validate(stored.model_dump()))
            os.rename(staging, destination)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return card.id

    def update(self, card: ModelCard) -> None:
        """Rewrite an existing entry's card (atomically)."""
        entry = self.path(card.id)
        if not entry.is_dir():
            raise KeyError(card.id)
        _write_card(entry, ModelCard.model_validate(card.model_dump()))

    def touch(self, model_id: str) -> ModelCard:
        """Record a use (LRU order and count); returns the updated card."""
        card = self.get(model_id)
        updated = card.model_copy(update={"last_used_utc": utc_now(), "use_count": card.use_count + 1})
        self.update(updated)
        return updated

    def register_engine(self, model_id: str, engine_file: Path, runtime: str, **details: object) -> ModelCard:
        """List a runtime engine built from the entry's ONNX (the file must already be inside the entry)."""
        card = self.get(model_id)
        entry = self.path(model_id)
        if engine_file.parent.resolve() != entry.resolve() or not engine_file.is_file():
            raise InputError(engine_file, f"engine file must exist inside {entry}")
        engines = [e for e in card.engines if e.file != engine_file.name]
        engines.append(RuntimeEngine(file=engine_file.name, runtime=runtime, **details))
        updated = card.model_copy(update={"engines": engines})
        self.update(updated)
        return updated

    def remove(self, model_id: str) -> None:
        """Delete an entry (renamed away first, so readers never see it half deleted)."""
        entry = self.path(model_id)
        if not entry.is_dir():
            raise KeyError(model_id)
        doomed = self.directory / f".removing-{model_id}-{uuid.uuid4().hex[:6]}"
        os.rename(entry, doomed)
        shutil.rmtree(doomed)

    def reject(self, model_id: str, reason: str) -> Path:
        """Move an unusable entry to ``<dir>/.rejected/<id>-<utc>/`` with ``REJECTED.txt``; return its new path."""
        entry = self.path(model_id)
        aside = self.directory / REJECTED_DIR
        aside.mkdir(parents=True, exist_ok=True)
        target = aside / f"{model_id}-{utc_now():%Y%m%dT%H%M%S%fZ}"
        os.rename(entry, target)
        (target / "REJECTED.txt").write_text(f"{reason}\n", encoding="utf-8")
        return target

    def evict_to_limit(self, keep: Iterable[str] = ()) -> list[str]:
        """Remove least-recently-used entries until the cache fits ``max_size_gb``; return the evicted ids.

        Entries in ``keep`` (e.g. the model just used) and entries whose card
        does not parse are never evicted here.
        """
        limit_bytes = self.config.max_size_gb * 1e9
        keep_ids = set(keep)
        sizes = {model_id: _dir_bytes(self.directory / model_id) for model_id in self.ids()}
        total = sum(sizes.values())
        evicted: list[str] = []
        for card in sorted(self.list(), key=lambda c: c.last_activity_utc):
            if total <= limit_bytes:
                break
            if card.id in keep_ids:
                continue
            self.remove(card.id)
            total -= sizes[card.id]
            evicted.append(card.id)
        return evicted

    def export(self, model_id: str, dest: Path) -> Path:
        """Copy an entry (card and files) to ``dest/<id>`` if ``dest`` is a directory, else to ``dest``; return it."""
        entry = self.path(model_id)
        if not entry.is_dir():
            raise KeyError(model_id)
        dest = Path(dest).expanduser()
        target = dest / model_id if dest.is_dir() else dest
        if target.exists():
            raise InputError(target, "already exists")
        shutil.copytree(entry, target, ignore=shutil.ignore_patterns(".card-*"))
        return target
