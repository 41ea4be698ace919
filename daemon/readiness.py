"""When is a watched pair ready? Decides per pair from cheap checks, never from guesses.

A pair is *ready* when both scans are complete (contract v1) and nothing in it
changed for ``settle_s`` -- or at once when it holds a ``READY`` file. A pair
with ``READY`` that is still incomplete once it has been quiet for ``settle_s``
*fails* (with every reason); one without ``READY`` that stays incomplete for
``stalled_after_s`` is *stalled* (reported, still watched). "Changed" means a
watcher event, a new fingerprint (file names, sizes, mtimes, sampled content)
or a file whose mtime/ctime is newer -- ctime catches copies that preserve
mtimes. Input links leading outside the pair's watch root are problems
(``boundary``). One :meth:`PairTracker.evaluate` spends at most ``budget_s``
seconds; pairs left over are checked at the next call, and an exception while
checking one pair is that pair's verdict (``error``), never the whole pass's.
The clock is injected so tests can step through time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.acquisition.completeness import HeaderCache, check_pair, is_pair_dir
from pipeline.acquisition.fingerprint import FingerprintCache, legacy_fingerprint, pair_fingerprint
from pipeline.acquisition.layout import READY

VerdictKind = Literal["ready", "failed", "waiting", "stalled", "gone", "error"]
EVENT_DEBOUNCE_S = 0.2  # a burst of events costs one check
EVALUATE_BUDGET_S = 2.0  # one evaluate() call; the main loop must keep serving signals and the watchdog
ERROR_RECHECK_S = 30.0  # a pair whose check raised is looked at again after this


@dataclass
class Verdict:
    """What :meth:`PairTracker.evaluate` decided about one pair."""

    kind: VerdictKind
    pair: Path
    root: Path
    fingerprint: str = ""
    reasons: list[str] = field(default_factory=list)
    legacy_fingerprint: str | None = None  # the v1 fingerprint of the same content (store migration)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass
class _Candidate:
    root: Path
    last_change_s: float
    next_check_s: float
    fingerprint: str | None = None


def safe_fingerprint(pair: Path, cache: FingerprintCache | None = None, boundary: Path | None = None) -> str:
    """:func:`pair_fingerprint`, or a marker when the pair cannot be read (so a later change still differs)."""
    try:
        return pair_fingerprint(pair, cache, boundary=boundary)
    except OSError as error:
        return f"unreadable: {error}"


def newest_change_s(pair: Path, ignore: Callable[[Path], bool]) -> float:
    """Latest mtime or ctime of anything in the pair (seconds since the epoch), ``ignore``d paths left out."""
    newest = 0.0
    for current, dirs, files in os.walk(pair):
        here = Path(current)
        dirs[:] = [d for d in dirs if not ignore(here / d)]
        for name in [*files, *dirs, "."]:
            try:
                stat = os.stat(here / name, follow_symlinks=False)
            except OSError:
                continue
            newest = max(newest, stat.st_mtime, stat.st_ctime)
    return newest


class PairTracker:
    """Candidate pairs and their settle clocks; :meth:`evaluate` turns them into verdicts."""

    def __init__(
        self,
        settle_s: float,
        stalled_after_s: float,
        recheck_s: float,
        *,
        ignore: Callable[[Path], bool] = lambda path: False,
        follow_links: bool = False,
        budget_s: float = EVALUATE_BUDGET_S,
        memory_budget_bytes: int | None = None,
    ) -> None:
        self.settle_s = settle_s
        self.stalled_after_s = stalled_after_s
        self.recheck_s = recheck_s
        self.ignore = ignore
        self.follow_links = follow_links  # False: input links must stay inside the pair's watch root
        self.budget_s = budget_s
        self.memory_budget_bytes = memory_budget_bytes  # projections needing more to read are a problem
        self._cache = HeaderCache()
        self._fingerprints = FingerprintCache()
        self._candidates: dict[Path, _Candidate] = {}

    def __len__(self) -> int:
        return len(self._candidates)

    def __contains__(self, pair: Path) -> bool:
        return pair in self._candidates

    def touch(
        self, pair: Path, root: Path, now_s: float, *, changed: bool = True, check_at_s: float | None = None
    ) -> None:
        """Something happened in ``pair`` (``changed``), or a scan found it (not a change by itself).

        ``check_at_s`` postpones its next check (a pair that changed while its job runs).
        """
        candidate = self._candidates.get(pair)
        if candidate is None:
            candidate = _Candidate(root=root, last_change_s=now_s if changed else 0.0, next_check_s=now_s)
            self._candidates[pair] = candidate
        elif changed:
            candidate.last_change_s = now_s
        if check_at_s is not None:
            candidate.next_check_s = check_at_s
        else:
            candidate.next_check_s = min(candidate.next_check_s, now_s + (EVENT_DEBOUNCE_S if changed else 0.0))

    def forget(self, pair: Path) -> None:
        self._candidates.pop(pair, None)
        self._cache.forget_below(pair)
        self._fingerprints.forget_below(pair)

    def next_check_s(self) -> float | None:
        """When :meth:`evaluate` next has something to do (None: nothing tracked)."""
        return min((c.next_check_s for c in self._candidates.values()), default=None)

    def evaluate(self, now_s: float) -> list[Verdict]:
        """Check the pairs that are due, longest-waiting first, for at most ``budget_s`` (wall clock).

        Ready, failed and gone pairs stop being tracked; a pair whose check raised gives an ``error`` verdict
        and is checked again after ``ERROR_RECHECK_S``.
        """
        verdicts = []
        deadline = time.monotonic() + self.budget_s
        due = sorted((c.next_check_s, str(p)) for p, c in self._candidates.items() if c.next_check_s <= now_s)
        for _, name in due:
            if verdicts and time.monotonic() > deadline:
                break  # the rest stay due: checked at the next call
            pair = Path(name)
            candidate = self._candidates[pair]
            try:
                verdict = self._check(pair, candidate, now_s)
            except Exception as error:  # noqa: BLE001 - MemoryError, a bug, an odd file system: this pair only
                candidate.next_check_s = now_s + ERROR_RECHECK_S
                verdict = Verdict(
                    "error", pair, candidate.root, reasons=[f"check raised {type(error).__name__}: {error}"]
                )
            if verdict.kind in ("ready", "failed", "gone"):
                del self._candidates[pair]
            verdicts.append(verdict)
        return verdicts

    def _check(self, pair: Path, candidate: _Candidate, now_s: float) -> Verdict:
        if not is_pair_dir(pair):
            return Verdict("gone", pair, candidate.root)
        boundary = None if self.follow_links else candidate.root
        fingerprint = safe_fingerprint(pair, self._fingerprints, boundary)
        if candidate.fingerprint is not None and fingerprint != candidate.fingerprint:
            candidate.last_change_s = now_s
        candidate.fingerprint = fingerprint
        candidate.last_change_s = max(candidate.last_change_s, min(newest_change_s(pair, self.ignore), now_s))
        quiet_s = now_s - candidate.last_change_s
        has_ready_file = (pair / READY).exists()
        completeness = check_pair(pair, self._cache, boundary=boundary, budget_bytes=self.memory_budget_bytes)
        if completeness.complete and (has_ready_file or quiet_s >= self.settle_s):
            return Verdict("ready", pair, candidate.root, fingerprint, legacy_fingerprint=legacy_fingerprint(pair))
        if completeness.complete:
            candidate.next_check_s = candidate.last_change_s + self.settle_s
            return Verdict("waiting", pair, candidate.root, fingerprint, ["settling"])
        if has_ready_file and quiet_s >= self.settle_s:
            return Verdict("failed", pair, candidate.root, fingerprint, completeness.reasons)
        candidate.next_check_s = now_s + self.recheck_s
        if has_ready_file:
            candidate.next_check_s = min(candidate.next_check_s, candidate.last_change_s + self.settle_s)
        if quiet_s >= self.stalled_after_s and not has_ready_file:
            return Verdict("stalled", pair, candidate.root, fingerprint, completeness.reasons)
        return Verdict("waiting", pair, candidate.root, fingerprint, completeness.reasons)
