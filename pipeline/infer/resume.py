"""Resuming an interrupted inference: a ledger of the z-slabs already written to the destination.

After each slab's values are in the destination (and flushed), its ``[z0, z1)`` is added to a small JSON
file, rewritten atomically (temporary name, fsync, rename), so the ledger never names a slab whose
values are not on disk. The ledger carries a fingerprint of the job (model, region grid, normalisation,
tiling, slab depth); a ledger of any other job is ignored and restarted, so a different model or region
never reuses another job's chunks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from models.atomic import write_text_atomic


class LedgerRecord(BaseModel):
    """What is stored: the job's fingerprint, its slab depth and the finished slabs ``[z0, z1)``."""

    model_config = ConfigDict(extra="forbid")

    fingerprint: str
    slab_z: int
    done: list[tuple[int, int]]


def job_fingerprint(**parts: Any) -> str:
    """SHA-256 (hex, 16 chars) of the parts as canonical JSON (pydantic models by their JSON dump)."""

    def plain(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    text = json.dumps(plain(parts), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SlabLedger:
    """The finished slabs of one job (identified by ``fingerprint``), kept in the JSON file ``path``."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self._record: LedgerRecord | None = None

    def start(self, slab_z: int) -> set[tuple[int, int]]:
        """The slabs already written by this same job with this slab depth (empty for a new or different job)."""
        record = self._read()
        if record is None or record.fingerprint != self.fingerprint or record.slab_z != slab_z:
            record = LedgerRecord(fingerprint=self.fingerprint, slab_z=slab_z, done=[])
            self._write(record)
        self._record = record
        return {(int(a), int(b)) for a, b in record.done}

    def mark(self, z0: int, z1: int) -> None:
        """Record slab ``[z0, z1)`` as written; call only once its values are flushed to the destination."""
        if self._record is None:
            raise RuntimeError("SlabLedger.start must be called before mark")
        self._record.done.append((z0, z1))
        self._write(self._record)

    def _read(self) -> LedgerRecord | None:
        try:
            return LedgerRecord.model_validate_json(self.path.read_text(encoding="utf-8"))
        except (OSError, ValidationError, ValueError):
            return None

    def _write(self, record: LedgerRecord) -> None:
        write_text_atomic(self.path, record.model_dump_json() + "\n")
