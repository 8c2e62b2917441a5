"""Record files an older version kept on disk move to the object store once, under the same key."""

from __future__ import annotations

from pathlib import Path

from services.intake.legacy_records import move_local_records
from tests.unit.fakes import FakeObjects


def test_local_files_move_to_the_bucket_under_their_relative_path_and_leave_the_disk(tmp_path: Path):
    (tmp_path / "pr_a").mkdir()
    (tmp_path / "pr_a" / "ab12").write_bytes(b"sealed-1")
    (tmp_path / "pr_a" / "cd34.77.tmp").write_bytes(b"half-written")  # an interrupted write is not a record
    objects = FakeObjects()
    assert move_local_records(tmp_path, objects) == 1
    assert objects.objects == {"pr_a/ab12": b"sealed-1"}
    assert not (tmp_path / "pr_a" / "ab12").exists()
    assert move_local_records(tmp_path, objects) == 0  # every start runs it: the second finds nothing


def test_a_file_already_in_the_bucket_is_not_written_again(tmp_path: Path):
    (tmp_path / "pr_b").mkdir()
    (tmp_path / "pr_b" / "ef56").write_bytes(b"sealed-2")
    objects = FakeObjects()
    objects.put("pr_b/ef56", b"sealed-2")
    assert move_local_records(tmp_path, objects) == 0 and not (tmp_path / "pr_b" / "ef56").exists()


def test_no_records_directory_moves_nothing(tmp_path: Path):
    assert move_local_records(tmp_path / "absent", FakeObjects()) == 0
