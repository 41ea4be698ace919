"""Checks that a cache entry is intact and loadable by this code before it is used.

An entry passes when its card parses (a card version this code knows), its
network config is one this code accepts, every listed file exists with the
recorded size and sha256, and ``model.onnx`` loads in ONNX Runtime with an
input ``[N, H, W, slices]`` and a single-channel output.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from models.cache.card import CARD_FILE, ONNX_FILE, ModelCard, sha256_file
from models.config import NetworkConfig
from models.errors import ScoutzoomError, format_validation_error


class CacheEntryRejected(ScoutzoomError):
    """A cache entry that must not be used; ``reason`` says why."""

    def __init__(self, model_id: str, reason: str) -> None:
        self.model_id = model_id
        self.reason = reason
        super().__init__(f"model {model_id} rejected: {reason}")


def read_card(entry_dir: Path) -> ModelCard:
    """The entry's card, or ``CacheEntryRejected`` if it is missing or not a card this code reads."""
    model_id = entry_dir.name
    path = entry_dir / CARD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CacheEntryRejected(model_id, f"cannot read {CARD_FILE}: {error.strerror or error}") from None
    try:
        card = ModelCard.from_json(text)
    except ValidationError as error:
        raise CacheEntryRejected(
            model_id, f"{CARD_FILE} is not a card this code reads: {format_validation_error(error)}"
        ) from None
    if card.id != model_id:
        raise CacheEntryRejected(model_id, f"card id {card.id!r} does not match its directory")
    return card


def check_network(card: ModelCard) -> NetworkConfig:
    """The card's network config as this code's ``NetworkConfig``, or rejected."""
    try:
        return NetworkConfig.model_validate(card.network)
    except ValidationError as error:
        raise CacheEntryRejected(
            card.id, f"network config not accepted by this code: {format_validation_error(error)}"
        ) from None


def check_files(entry_dir: Path, card: ModelCard) -> None:
    """Every listed file exists with its recorded size and sha256; model.onnx is listed."""
    if ONNX_FILE not in card.files:
        raise CacheEntryRejected(card.id, f"card lists no {ONNX_FILE}")
    for name, entry in card.files.items():
        path = entry_dir / name
        if Path(name).name != name or not path.is_file():
            raise CacheEntryRejected(card.id, f"file {name} is missing")
        size = path.stat().st_size
        if size != entry.size_bytes:
            raise CacheEntryRejected(card.id, f"file {name} has {size} bytes, card says {entry.size_bytes}")
        if sha256_file(path) != entry.sha256:
            raise CacheEntryRejected(card.id, f"file {name} fails its sha256 checksum")


def check_onnx(path: Path, slices: int, model_id: str) -> None:
    """``path`` loads in ONNX Runtime (CPU) with input ``[N, H, W, slices]`` and output ``[N, H, W(, 1)]``."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # ORT raises its own untyped errors for corrupt or unsupported graphs
        raise CacheEntryRejected(model_id, f"{path.name} does not load in ONNX Runtime: {error}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise CacheEntryRejected(model_id, f"{path.name} has {len(inputs)} inputs, expected 1")
    shape = inputs[0].shape
    if len(shape) != 4 or shape[-1] != slices:
        raise CacheEntryRejected(model_id, f"{path.name} input shape {shape}, expected [N, H, W, {slices}]")
    out_shapes = [output.shape for output in outputs]
    if not any(len(s) == 3 or (len(s) == 4 and s[-1] == 1) for s in out_shapes):
        raise CacheEntryRejected(model_id, f"{path.name} output shapes {out_shapes}, expected one [N, H, W, 1]")


def verify_entry(entry_dir: Path) -> ModelCard:
    """The entry's card if the entry is fit for use; ``CacheEntryRejected`` with the reason otherwise."""
    card = read_card(entry_dir)
    network = check_network(card)
    check_files(entry_dir, card)
    check_onnx(entry_dir / ONNX_FILE, network.slices, card.id)
    return card
