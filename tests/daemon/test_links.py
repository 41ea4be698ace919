"""The one realpath-inside-root guard the watcher and the worker share."""

from __future__ import annotations

from pathlib import Path

from daemon.links import link_escape


def test_paths_inside_the_root_pass_even_through_links(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert link_escape(tmp_path, tmp_path) is None
    assert link_escape(tmp_path / "a" / "b", tmp_path) is None
    assert link_escape(tmp_path / "link" / "b", tmp_path) is None
    assert link_escape(tmp_path / "not-yet", tmp_path) is None  # an output folder still to be made


def test_a_link_leaving_the_root_is_named_with_the_callers_hint(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "victim"
    root.mkdir()
    outside.mkdir()
    (root / "out").symlink_to(outside)
    problem = link_escape(root / "out", root, hint="; nothing written there")
    assert problem == f"{root / 'out'} leads outside {root} through a symbolic link; nothing written there"
    assert link_escape(root / "out" / "deeper", root) is not None
