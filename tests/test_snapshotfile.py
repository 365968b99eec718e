"""The saved snapshot: read back exactly as written, or refused when damaged."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.snapshot import Snapshot
from exporters.snapshotfile import load_snapshot, remove_leftovers, save_snapshot, snapshot_path

SNAPSHOT = Snapshot(b"kpiwatch_kpi_x 1.0\n" * 50, b"kpiwatch_kpi_x 1.0\n" * 50, 50, 1.7e9, 3)


def test_a_saved_snapshot_reads_back_whole(tmp_path: Path) -> None:
    path = snapshot_path(tmp_path / "kpiwatch.duckdb")
    assert path.name == "kpiwatch.duckdb.snapshot"
    assert load_snapshot(path) is None  # none saved yet
    save_snapshot(path, SNAPSHOT)
    assert load_snapshot(path) == SNAPSHOT
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


@pytest.mark.parametrize("cut", [0, 5, 30, -1])
def test_a_damaged_snapshot_is_refused(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "s.snapshot"
    save_snapshot(path, SNAPSHOT)
    raw = path.read_bytes()
    path.write_bytes(raw[:cut] if cut else b"junk" + raw)
    with pytest.raises(ValueError, match="snapshot"):
        load_snapshot(path)
    flipped = bytearray(raw)
    flipped[-3] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="damaged snapshot"):
        load_snapshot(path)


def test_the_leftovers_of_a_killed_save_are_removed(tmp_path: Path) -> None:
    path = snapshot_path(tmp_path / "kpiwatch.duckdb")
    save_snapshot(path, SNAPSHOT)
    leftover = tmp_path / f".{path.name}.k2j4x"  # what a SIGKILL mid-save leaves
    leftover.write_bytes(b"half")
    (tmp_path / "kpiwatch.duckdb").write_bytes(b"the store")
    assert remove_leftovers(path) == [leftover]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kpiwatch.duckdb", path.name]
